"""End-to-end checks of the `group-agf` console command (installed entry point, real subprocesses)."""
import json
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


def test_train_runs_end_to_end_and_resumes(tmp_path):
    args = ['train', 'M=2x3', 'hidden_size=32', 'num_epochs=60', 'eval_interval=10', 'test_size=0.3',
            'loss_func=mse', 'learning_rate=0.01', '--no-progress', '--out', str(tmp_path / 'run')]
    res = run(*args)
    assert res.returncode == 0, res.stderr
    files = {p.name for p in (tmp_path / 'run').iterdir()}
    assert {'config.json', 'metrics.csv', 'summary.json', 'curves.png', 'checkpoints'} <= files
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert summary['status'] == 'completed' and summary['epochs'] == 60 and summary['n_train'] + summary['n_test'] == 36
    rows = (tmp_path / 'run' / 'metrics.csv').read_text().splitlines()
    assert len(rows) == 1 + 7                          # header + epochs 0, 10, ..., 60
    first_loss = float(rows[1].split(',')[1])
    assert summary['final']['train_loss'] < first_loss  # it learned something
    again = run(*args)                                  # a finished run is returned, not recomputed
    assert again.returncode == 0 and json.loads((tmp_path / 'run' / 'summary.json').read_text()) == summary


@pytest.mark.parametrize('override, message', [
    ('hiden_size=3', "unknown configuration key 'hiden_size'"),
    ('activation=sigmoid', "activation: unknown value 'sigmoid'"),
    ('learning_rate=fast', "learning_rate: got 'fast'"),
    ('set_weight_reg=0.001', "set_weight_reg"),
    ('M', "expected key=value"),
])
def test_train_rejects_bad_config_before_work(tmp_path, override, message):
    res = run('train', override, '--out', str(tmp_path / 'run'))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / 'run').exists()


def test_train_divergence_exits_3_with_record(tmp_path):
    res = run('train', 'M=7', 'hidden_size=16', 'optim=sgd', 'learning_rate=1e6', 'num_epochs=50', 'eval_interval=1',
              '--no-progress', '--out', str(tmp_path / 'run'))
    assert res.returncode == 3 and 'diverged' in res.stderr
    assert json.loads((tmp_path / 'run' / 'summary.json').read_text())['status'] == 'diverged'


def test_sequence_d3_first_step_of_the_staircase(tmp_path):
    """Seed 003's D3 preset from the CLI: the first plateau drop (505 -> 5) within 300 epochs, written to a run folder."""
    res = run('sequence', 'preset=d3', 'num_epochs=300', 'eval_interval=50', '--no-progress', '--out', str(tmp_path / 'run'))
    assert res.returncode == 0, res.stderr
    staircase = json.loads((tmp_path / 'run' / 'staircase.json').read_text())
    assert 'predicted plateaus [505.0, 5.0' in res.stdout
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert abs(summary['final']['train_loss'] - 5.0) / 5.0 < 0.1 and staircase


def test_sequence_rejects_bad_option(tmp_path):
    res = run('sequence', 'preset=d3', 'hiden=3', '--out', str(tmp_path / 'run'))
    assert res.returncode == 2 and 'hiden' in res.stderr


def test_sequence_multirun_trains_seeds_as_one_ensemble(tmp_path):
    """`group-agf sequence -m`: a seed x learning-rate grid of the D3 preset, one folder and one table row per run."""
    out = tmp_path / 'sweep'
    res = run('sequence', '-m', 'preset=d3', 'num_epochs=200', 'eval_interval=20', 'init_seed=0,1',
              'learning_rate=0.01,0.02', '--no-progress', '--out', str(out))
    assert res.returncode == 0, res.stderr
    rows = (out / 'results.csv').read_text().splitlines()
    assert len(rows) == 1 + 4 and 'plateaus_reached' in rows[0]
    assert len(list((out / 'runs').glob('*/staircase.json'))) == 4
    assert (out / 'figures' / 'y-final_train_loss.png').exists()
