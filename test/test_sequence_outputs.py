"""What every `group-agf sequence` run writes (issue 14: seed 003's analyses; issue 15 item 5: irreps.png): the figures,
the parameter snapshots, the summary keys and the printed lines, through the installed command (real subprocesses)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

EXE = shutil.which('group-agf') or str(Path(sys.executable).parent / 'group-agf')
FIGURES = ('curves.png', 'irreps.png', 'staircase.png', 'training_loss_vs_samples.png', 'predictions_over_time.png',
           'wout_dominance.png')


def run(*args, cwd=None):
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_sequence_run_writes_irreps_and_the_seed_figures(tmp_path):
    out = tmp_path / 'run'
    res = run('sequence', 'num_epochs=40', 'save_param_interval=15', 'device=cpu', '--no-progress', '--out', str(out))
    assert res.returncode == 0, res.stderr
    files = {p.name for p in out.iterdir()}
    assert set(FIGURES) | {'param_history.pt', 'summary.json'} <= files
    assert 'wmix_frequency_structure.png' not in files                  # a TwoLayerNet has no W_mix
    s = json.loads((out / 'summary.json').read_text())
    assert s['key_irreps'] and set(s['key_irreps']) <= {'trivial', 'sign', 'ρ1'}
    assert s['template_top_irreps'] == ['ρ1', 'sign']                    # powers 3000 and 30 (D3 defaults)
    assert s['samples_seen'] == 40 * s['n_train']                        # offline: epochs x training sequences
    assert s['irreps_png'] == str((out / 'irreps.png').resolve())
    assert {Path(p).name for p in s['figures'].values()} == set(FIGURES[3:])
    snaps = torch.load(out / 'param_history.pt', weights_only=True)
    assert list(snaps) == [0, 15, 30, 40]                                # epoch 0, every 15th, the last
    assert set(snaps[40]) == {'U', 'V', 'W'}
    assert f"key irreps {s['key_irreps']}" in res.stdout and str(out.resolve() / 'irreps.png') in res.stdout
    assert 'predictions_over_time.png' in res.stdout and 'parameter snapshots: 4' in res.stdout
    again = run('sequence', 'num_epochs=40', 'save_param_interval=15', 'device=cpu', '--no-progress', '--out', str(out))
    assert again.returncode == 0 and json.loads((out / 'summary.json').read_text()) == s   # a finished run: the same summary


def test_recurrent_run_draws_wmix_at_the_checkpoints(tmp_path):
    out = tmp_path / 'rnn'
    res = run('sequence', 'group=cyclic:6', 'k=3', 'model=QuadraticRNN', 'optimizer=adam', 'learning_rate=0.001',
              'init_scale=0.01', 'powers=[0,4,1,0]', 'hidden=12', 'num_epochs=20', 'save_param_interval=5',
              'analysis_checkpoints=[0,0.5,1]', 'device=cpu', '--no-progress', '--out', str(out))
    assert res.returncode == 0, res.stderr
    assert (out / 'wmix_frequency_structure.png').exists()
    s = json.loads((out / 'summary.json').read_text())
    assert 'key_frequencies' in s and s['param_snapshots'] == 5           # epochs 0, 5, 10, 15, 20
    assert 'wmix_frequency_structure.png' in res.stdout


def test_bad_analysis_options_are_refused(tmp_path):
    for arg, message in (('analysis_checkpoints=[0,1.5]', 'analysis_checkpoints: got 1.5'),
                         ('save_param_interval=0', 'save_param_interval: got 0')):
        res = run('sequence', arg, 'num_epochs=2', '--out', str(tmp_path / 'x'))
        assert res.returncode == 2 and message in res.stderr, res.stderr


SMALL = dict(hidden=8, num_epochs=30, eval_interval=10, save_param_interval=10, device='cpu')


def test_snapshots_survive_a_resume_and_match_an_ensemble_member(tmp_path):
    from group_agf.sequence_ensemble import train_sequence_ensemble
    from group_agf.sequential.analysis import load_param_history
    from group_agf.sequential.run import train_sequence
    cut = train_sequence(dict(SMALL, max_wall_s=1e-9), run_dir=tmp_path / 'r', progress=False)
    assert cut.summary['status'] == 'out_of_time' and load_param_history(tmp_path / 'r') == {}   # stopped before a step
    assert not (tmp_path / 'r' / 'irreps.png').exists()                 # figures only for a finished run
    done = train_sequence(SMALL, run_dir=tmp_path / 'r', progress=False)    # resumed from its epoch-0 checkpoint
    alone = load_param_history(tmp_path / 'r')
    assert list(alone) == [0, 10, 20, 30] and done.summary['param_snapshots'] == 4
    members = train_sequence_ensemble([dict(SMALL, init_seed=s) for s in (0, 1)], [tmp_path / 'e0', tmp_path / 'e1'], progress=False)
    assert all((tmp_path / f'e{s}' / 'irreps.png').exists() for s in (0, 1)) and members[0].summary['key_irreps']
    stacked = load_param_history(tmp_path / 'e0')
    assert list(stacked) == list(alone)
    for e in alone:
        for k in alone[e]: assert torch.allclose(stacked[e][k], alone[e][k], atol=1e-6), (e, k)
