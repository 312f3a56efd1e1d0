"""The numbers do not move: fixed-seed histories of single runs and ensembles equal `test/golden/histories.json`.

The file was written by `tools/make_golden.py` before the one-engine redesign (issue 12). A refactor of the training
code must leave every logged number of these runs where it was (float64, relative difference <= 1e-10); a change
that is meant to move them regenerates the file and says why in its commit message.
"""
import importlib.util, json, math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location('make_golden', ROOT / 'tools' / 'make_golden.py')
make_golden = importlib.util.module_from_spec(spec); spec.loader.exec_module(make_golden)

@pytest.fixture(scope='module')
def histories():
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try: yield make_golden.run_all()
    finally: torch.set_num_threads(threads)

def close(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a): return isinstance(b, float) and math.isnan(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)): return math.isclose(a, b, rel_tol=1e-10, abs_tol=1e-12)
    return a == b

GOLDEN = json.loads(make_golden.GOLDEN.read_text())

@pytest.mark.parametrize('name', sorted(GOLDEN))
def test_history_equals_golden(histories, name):
    assert name in histories, f"golden run {name} no longer produced"
    got, want = histories[name], GOLDEN[name]
    assert [r['epoch'] for r in got] == [r['epoch'] for r in want], f"{name}: logged epochs changed"
    for g, w in zip(got, want):
        assert set(g) == set(w), f"{name} epoch {w['epoch']}: columns changed: {set(g) ^ set(w)}"
        bad = {k: (g[k], w[k]) for k in w if not close(g[k], w[k])}
        assert not bad, f"{name} epoch {w['epoch']}: moved from the golden numbers: {bad}"

def test_golden_covers_both_families_and_ensembles():
    assert sum(k.startswith('single/z23') or k.startswith('single/arith') for k in GOLDEN) == 4
    assert sum(k.startswith('single/') for k in GOLDEN) - 4 == 4
    assert sum(k.startswith('ensemble/') for k in GOLDEN) == 12
