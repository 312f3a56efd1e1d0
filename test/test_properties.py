"""Property-based tests (hypothesis) of everything that reads user input or a user's table:
the key=value config parser, the sweep-spec loader, the expression parser, Cayley-table validation, and irreps.

Each property states what must hold for *every* input, not just the examples in the notebooks:
bad input is refused with a `ValueError` and a message (never another exception), nothing is evaluated as
Python, time and memory stay bounded, a corrupted table is always refused and the elements it names really
violate the axiom, and the irreps of any small group are homomorphisms with orthogonal characters.
Example budgets are small so the file runs in well under a minute on two busy cores (`EXAMPLES` below)."""
import ast
import builtins
import contextlib
import os
import re
import time
import tracemalloc

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from group_agf.cli import parse_overrides
from group_agf.fourier import irrep_errors, irreps
from group_agf.groups import (cyclic, dicyclic, dihedral, named_groups, product, quaternion, symmetric,
                              validate_table)
from group_agf.smallgroups import number_of_small_groups, small_group
from group_agf.sweep import SPEC_KEYS, expand, load_spec
from group_agf.tasks import (MAX_EXPRESSION_LENGTH, check_task, expression_values, make_task, parse_expression,
                             split_indices, task_test_size)
from group_agf.train import TrainConfig, make_config

EXAMPLES = dict(config_tokens=150, config_mapping=100, spec_text=150, spec_mapping=100, expression_text=200, expression_tree=150,
                table_corruption=150, irreps_small=20, irreps_products=10)


def budget(name, **kw):
    "Hypothesis settings with the example budget of one property (no example database written, no deadline)."
    return settings(max_examples=EXAMPLES[name], deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], **kw)


def refused_or(f):
    "Call f(); a ValueError must carry a one-line message; anything else but success fails the property."
    try:
        return f()
    except ValueError as e:
        assert str(e).strip(), f"ValueError without a message: {e!r}"
        return None


# --- the key=value config parser ---------------------------------------------------------------------------

FIELDS = list(TrainConfig.__dataclass_fields__)
INTERESTING = ['', '0', '1', '-1', '2', '7', '127', '2x3', '2x0', 'abc', 'inf', '-inf', 'nan', '1e999', '1e-300',
               'true', 'false', 'None', 'null', '[1,2]', '[', ']', '9' * 30, '9' * 5000, '١٢', '²', '0.999', '2**70',
               'sym', 'expression', 'collection', 'x^2+y', '(' * 300 + 'x' + ')' * 300, 'cuda:99999999999999999999',
               'float64', 'sgd', 'relu', '\x00', ' 5 ', '5.0']
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
values = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=20), st.integers().map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
tokens = st.one_of(st.tuples(keys, values).map(lambda kv: f"{kv[0]}={kv[1]}"), st.text(max_size=15))


@budget('config_tokens')
@given(st.lists(tokens, max_size=6))
def test_config_parser_refuses_with_a_message_or_gives_a_valid_config(toks):
    cfg = refused_or(lambda: make_config(**parse_overrides(toks)))
    if cfg is None:
        return
    assert isinstance(cfg, TrainConfig) and make_config(cfg.to_dict()) == cfg   # accepted: it validates again
    args = (cfg.group_type, cfg.M, cfg.num_of_ops, cfg.expression, cfg.group_collection_max_dk)
    if check_task(*args)['bytes'] < 2**25 and cfg.load_dataset_split is None:
        task = make_task(*args)           # and what validation accepted builds: no error deferred to run time
        split_indices(len(task), task_test_size(task, cfg.test_size, cfg.use_critical_ratio, cfg.critical_ratio_delta,
                                                cfg.critical_ratio_multiplier), cfg.seed)


python_values = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**2000, 2**2000),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(INTERESTING),
                        st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=4)), max_size=3))


@budget('config_mapping')
@given(st.dictionaries(st.sampled_from(FIELDS), python_values, max_size=5))
def test_config_from_python_values(values):
    "Values as YAML or Python give them (ints of any size, floats, None, lists): a config or a ValueError."
    refused_or(lambda: make_config(values))


# --- the sweep-spec loader ---------------------------------------------------------------------------------

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10),
                         st.sampled_from(INTERESTING))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
train_fields = st.sampled_from(FIELDS[:12] + ['hiden_size', 'seeds'])
spec_mappings = st.fixed_dictionaries(
    {'name': st.one_of(st.just('p'), yaml_scalars)},
    optional={'kind': st.sampled_from(['train', 'sequence', 'sequense', 7, None]),
              'mode': st.sampled_from(['inprocess', 'papermill', 'paper', 3]),
              'base': st.one_of(st.dictionaries(train_fields, yaml_scalars, max_size=4), yaml_values),
              'grid': st.one_of(st.dictionaries(train_fields, st.lists(yaml_scalars, max_size=3), max_size=3), yaml_values),
              'seeds': yaml_values, 'experiments': yaml_values, 'figures': yaml_values, 'notebook': yaml_values,
              'description': yaml_values, 'status': yaml_scalars, 'sedes': yaml_values})


@budget('spec_text')
@given(st.one_of(st.text(max_size=80), st.text(alphabet=':{}[]-,\n #&*!|>\'"?%@`abcM0123456789.', max_size=80)))
def test_spec_loader_on_arbitrary_text(text):
    "Any text (YAML or not, a file name or not): a `SweepSpec`, or a ValueError with a message."
    refused_or(lambda: load_spec(text))


@budget('spec_mapping')
@given(spec_mappings)
def test_spec_loader_and_expansion_on_random_specs(spec):
    "Random structured specs, as YAML text: loaded and expanded (train runs), or refused with a ValueError."
    try:
        text = yaml.safe_dump(spec)
    except yaml.YAMLError:
        assume(False)
    loaded = refused_or(lambda: load_spec(text))
    if loaded is not None and loaded.kind == 'train':   # expanding makes and validates every config (nothing is built)
        refused_or(lambda: expand(loaded))


# --- the expression parser ---------------------------------------------------------------------------------

@contextlib.contextmanager
def no_python_evaluation():
    "While active, eval/exec fail, and compile refuses anything but building an AST (what `ast.parse` does)."
    saved = builtins.compile, builtins.eval, builtins.exec
    real_compile = saved[0]

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "compiled to bytecode: user text would run as Python"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs): raise AssertionError("eval/exec called on user input")
    builtins.compile, builtins.eval, builtins.exec = ast_only, forbidden, forbidden
    try:
        yield
    finally:
        builtins.compile, builtins.eval, builtins.exec = saved


ALLOWED_NODES = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Pow,
                 ast.Mod, ast.UAdd, ast.USub)

atoms = st.one_of(st.sampled_from(['x', 'y']), st.integers(-10**30, 10**30).map(str))
expr_trees = st.recursive(atoms, lambda e: st.one_of(
    st.tuples(e, st.sampled_from(['+', '-', '*', '**', '^', '%']), e).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    e.map(lambda s: f"({s})"), e.map(lambda s: f"-{s}")), max_leaves=25)
expr_text = st.one_of(st.text(alphabet='xy0123456789+-*%^() .,/_[]:=', max_size=120), st.text(max_size=60),
                      st.sampled_from(["__import__('os').system('touch /tmp/pwned')", 'x.__class__', 'lambda: 1',
                                       '[x for x in ()]', 'open("f")', 'x if y else 1', '-' * 5000 + 'x',
                                       '(' * 500 + 'x' + ')' * 500, '9' * 5000, '2**2**2**2**2**2', 'x' * 2000]))


def _check_expression(expression, M):
    "Parse (only whitelisted nodes) and evaluate over Z_M within bounded time and memory, or refuse."
    tree = refused_or(lambda: parse_expression(expression))
    if tree is None:
        return
    assert len(expression) <= MAX_EXPRESSION_LENGTH
    assert all(isinstance(n, ALLOWED_NODES) for n in ast.walk(tree))
    assert all(n.id in ('x', 'y') for n in ast.walk(tree) if isinstance(n, ast.Name))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        values = refused_or(lambda: expression_values(expression, M))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5 and peak < 50 * 2**20, (time.perf_counter() - t0, peak)
    if values is not None:
        assert values.shape == (M, M) and values.dtype == np.int64 and ((0 <= values) & (values < M)).all()
    return values


@budget('expression_text')
@given(expr_text, st.integers(2, 13))
def test_expression_parser_on_arbitrary_text(expression, M):
    with no_python_evaluation():
        _check_expression(expression, M)


@budget('expression_tree')
@given(expr_trees, st.integers(2, 13))
def test_expression_values_agree_with_exact_integers(expression, M):
    "Well-formed expressions: the values mod M equal exact integer arithmetic (where that stays small enough to run)."
    with no_python_evaluation():
        values = _check_expression(expression, M)
    if values is None:
        return
    tree = parse_expression(expression)
    try:
        exact = np.array([[_exact(tree, x, y) % M for y in range(M)] for x in range(M)])
    except _TooBig:
        return
    assert (values == exact).all(), expression


class _TooBig(Exception):
    "The exact value is too large to compute quickly, or undefined (the package refuses those)."


def _exact(node, x, y):
    "Exact integer value of a whitelisted tree (an independent interpreter, not Python's eval)."
    if isinstance(node, ast.Constant): return node.value
    if isinstance(node, ast.Name): return {'x': x, 'y': y}[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _exact(node.operand, x, y)
        return -v if isinstance(node.op, ast.USub) else v
    a, b = _exact(node.left, x, y), _exact(node.right, x, y)
    if isinstance(node.op, ast.Pow):
        if b < 0 or (b > 256 and abs(a) > 1): raise _TooBig
        r = a ** b
    elif isinstance(node.op, ast.Mod):
        if b == 0: raise _TooBig
        r = a % b
    else:
        r = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
    if abs(r) > 2**400: raise _TooBig
    return r


# --- Cayley-table corruptions ------------------------------------------------------------------------------

def _small_tables():
    groups = [g for g in named_groups().values() if 2 <= g.order <= 48]
    return st.sampled_from(groups).map(lambda g: g.table)


def _named_violation_is_real(t, message):
    "The elements the message names really violate the axiom it names, in the corrupted table `t`."
    n = len(t)
    if m := re.search(r"closure fails: table\[(\d+), (\d+)\]", message):
        a, b = int(m[1]), int(m[2])
        return not 0 <= t[a, b] < n
    if m := re.search(r"identity fails: (\d+)·(\d+) = (-?\d+), expected (\d+)", message):
        a, b, v, want = map(int, m.groups())
        return (a == 0 or b == 0) and t[a, b] == v != want
    if m := re.search(r"inverse fails: (row|column) (\d+) of the table", message):
        i = int(m[2])
        line = t[i] if m[1] == 'row' else t[:, i]
        return sorted(line.tolist()) != list(range(n))
    if m := re.search(r"associativity fails: \((\d+)·(\d+)\)·(\d+)", message):
        a, b, c = map(int, m.groups())
        return t[t[a, b], c] != t[a, t[b, c]]
    return False


corruptions = st.sampled_from(['entry', 'swap_in_row', 'swap_in_column', 'swap_rows', 'out_of_range'])


@budget('table_corruption')
@given(_small_tables(), corruptions, st.data())
def test_every_corrupted_table_is_refused_naming_violating_elements(table, how, data):
    t = np.array(table)
    n = len(t)
    idx, shift = st.integers(0, n - 1), st.integers(1, n - 1)
    a, b = data.draw(idx), data.draw(idx)
    c = (b + data.draw(shift)) % n          # another index than b
    if how == 'entry':
        t[a, b] = (t[a, b] + data.draw(shift)) % n     # another element than the right one
    elif how == 'out_of_range':
        t[a, b] = data.draw(st.sampled_from([-1, n, n + 7, -2**40, 2**40]))
    elif how == 'swap_in_row':
        t[a, [b, c]] = t[a, [c, b]]
    elif how == 'swap_in_column':
        t[[b, c], a] = t[[c, b], a]
    else:
        t[[b, c]] = t[[c, b]]
    with pytest.raises(ValueError) as e:
        validate_table(t)
    assert _named_violation_is_real(t, str(e.value)), str(e.value)


# --- irreps of random small groups -------------------------------------------------------------------------

def _assert_irreps_hold(G):
    reps = irreps(G)
    err = irrep_errors(G, reps)
    assert err['homomorphism'] < 1e-9 and err['unitarity'] < 1e-9 and err['orthogonality'] < 1e-9, err
    assert err['sum_d2'] == G.order and err['n_irreps'] == err['n_classes'], err


small_ids = st.integers(1, 32).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, number_of_small_groups(n))))


@budget('irreps_small')
@given(small_ids)
def test_irreps_of_random_small_groups(order_id):
    _assert_irreps_hold(small_group(*order_id))


factors = st.one_of(st.integers(1, 6).map(cyclic), st.integers(2, 4).map(dihedral), st.just(quaternion()),
                    st.integers(2, 3).map(dicyclic), st.integers(2, 3).map(symmetric))


@budget('irreps_products')
@given(factors, factors)
def test_irreps_of_random_direct_products(g, h):
    assume(g.order * h.order <= 64)
    _assert_irreps_hold(product(g, h))
