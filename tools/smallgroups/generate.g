# generate.g -- the group_agf small-groups generator (GAP 4 + SmallGrp).
#
# Driven by group_agf.smallgroups.generate_small_groups_data (notebook 01_smallgroups), which
# defines these globals on GAP's stdin and then reads this file:
#   SG_MODE   "data"  : one line per group of every order in SG_ORDERS
#             "names" : one line per (order, id) pair in SG_PAIRS (StructureDescription)
#   SG_ORDERS list of orders (mode "data")
#   SG_PAIRS  list of [order, id] pairs (mode "names")
#   SG_OUT    path of the text file to write (appended to, one line per group)
#
# "data" line (a JSON array):
#   [order, id, abelian, [[degree, multiplicity], ...], [perm_1, ..., perm_k]]
# where perm_j[x] (0-based) is the position of g_j * e_x in the fixed enumeration
# e_0, ..., e_{n-1} = AsSSortedList(G), and g_1..g_k is a minimal generating set (solvable
# groups) or a small generating set (the 4 non-solvable groups of order <= 128).
# "names" line:  order <TAB> id <TAB> StructureDescription
#
# Every group starts from the same random state, so the output does not depend on which
# groups were computed before it in the same session: the same bytes every run.

SG_ResetRandom := function()
    Reset(GlobalMersenneTwister, 1);
    Reset(GlobalRandomSource, 1);
end;

SG_WriteLine := function(path, line)
    local s;
    s := OutputTextFile(path, true);     # append, then close: a killed run keeps its lines
    SetPrintFormattingStatus(s, false);  # no line wrapping
    PrintTo(s, line, "\n");
    CloseStream(s);
end;

SG_DataLine := function(n, i)
    local G, gens, elts, perms;
    G := SmallGroup(n, i);
    SG_ResetRandom();
    if IsSolvableGroup(G) then
        gens := MinimalGeneratingSet(G);
    else
        gens := SmallGeneratingSet(G);
    fi;
    elts := AsSSortedList(G);
    perms := List(gens, g -> List(elts, x -> PositionSorted(elts, g * x) - 1));
    return Concatenation("[", String(n), ",", String(i), ",",
        String(IsAbelian(G)), ",", String(CharacterDegrees(G)), ",", String(perms), "]");
end;

SG_NameLine := function(n, i)
    local G;
    G := SmallGroup(n, i);
    SG_ResetRandom();
    return Concatenation(String(n), "\t", String(i), "\t", StructureDescription(G));
end;

if SG_MODE = "data" then
    for SG_n in SG_ORDERS do
        for SG_i in [1 .. NrSmallGroups(SG_n)] do
            SG_WriteLine(SG_OUT, SG_DataLine(SG_n, SG_i));
        od;
    od;
elif SG_MODE = "names" then
    for SG_pair in SG_PAIRS do
        SG_WriteLine(SG_OUT, SG_NameLine(SG_pair[1], SG_pair[2]));
    od;
elif SG_MODE = "counts" then
    for SG_n in SG_ORDERS do
        SG_WriteLine(SG_OUT, Concatenation(String(SG_n), "\t", String(NrSmallGroups(SG_n))));
    od;
else
    Error("SG_MODE must be \"data\", \"names\" or \"counts\"");
fi;
QUIT;
