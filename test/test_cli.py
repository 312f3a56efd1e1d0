"""End-to-end checks of the `group-agf` console command (installed entry point, real subprocesses)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXE = shutil.which('group-agf') or str(Path(sys.executable).parent / 'group-agf')


def run(*args, cwd=None):
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_demo_writes_figures_and_prints_where(tmp_path):
    out = tmp_path / 'figs'
    res = run('demo', '--out', str(out))
    assert res.returncode == 0, res.stderr
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert pngs == ['A5_irreps_power.png', 'D5_irreps_power.png']
    assert str(out.resolve()) in res.stdout
    assert 'irrep degrees [1, 3, 3, 4, 5]' in res.stdout  # A5


def test_demo_default_folder(tmp_path):
    res = run('demo', cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / 'results' / 'demo').glob('*.png'))) == 2


@pytest.mark.parametrize('args', [[], ['nonsense'], ['benchmark', 'everything'], ['demo', '--seed', 'x']])
def test_bad_arguments_fail_with_usage(args):
    res = run(*args)
    assert res.returncode == 2
    assert 'usage: group-agf' in res.stderr
