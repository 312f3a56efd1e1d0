"""Faults a run folder must survive (issue 13): SIGKILL at random points of a sweep, checkpoints that would run code,
a folder reused for another configuration or by two processes, a diverged run re-run, damaged files, NaN in JSON,
stale temporary files, file modes. Each test reproduces a defect that existed before `group_agf.rundir`."""
import csv
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

from group_agf.rundir import (ConfigMismatch, RunFolderBusy, RunFolderError, UnsafeCheckpoint, checkpoint_epochs,
                              load_checkpoint, locked)
from group_agf.sweep import run_status, run_sweep
from group_agf.train import TrainingDiverged, train

EXE = str(Path(sys.executable).parent / 'group-agf')
BASE = ['M=7', 'hidden_size=16', 'num_epochs=20', 'eval_interval=5', 'save_interval=5', 'loss_func=mse', 'learning_rate=0.01']


def cli(*args, cwd=None, umask=None):
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([EXE, 'train', *args, '--no-progress'], capture_output=True, text=True, cwd=cwd, timeout=300,
                          preexec_fn=pre)


def strict_json(path):
    "Parse a JSON file refusing NaN/Infinity (as most parsers do)."
    def bad(c): raise ValueError(f"{path}: non-standard JSON constant {c}")
    return json.loads(Path(path).read_text(), parse_constant=bad)


# ---------------------------------------------------------------- 1. no checkpoint runs code

class Payload:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


def test_a_checkpoint_that_would_run_code_is_refused_and_the_run_does_not_restart(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run)).returncode == 0
    metrics = (run / 'metrics.csv').read_text()
    (run / 'summary.json').unlink()
    marker = tmp_path / 'PWNED'
    torch.save({'epoch': 20, 'evil': Payload(marker)}, run / 'checkpoints' / 'epoch_000020.pt')
    res = cli(*BASE, '--out', str(run))
    assert res.returncode != 0 and 'epoch_000020.pt: refused' in res.stderr, res.stderr[-2000:]
    assert not marker.exists()                                  # nothing executed
    assert (run / 'metrics.csv').read_text() == metrics          # not silently restarted from epoch 0
    assert not (run / 'summary.json').exists()


def test_checkpoints_of_every_run_kind_load_weights_only(tmp_path):
    "Every checkpoint the package writes is plain containers: single runs (every optimizer, schedule and switch that "
    "stores state), both ensembles and the sequence family (sampler, hybrid optimizer)."
    from group_agf.ensemble import train_ensemble
    from group_agf.sequence_ensemble import train_sequence_ensemble
    from group_agf.sequential import train_sequence
    small = dict(M='5', hidden_size=8, num_epochs=4, eval_interval=2, save_interval=2, test_size=0.3, progress=False)
    variants = [dict(optim='sgd'), dict(optim='adamw'), dict(optim='muon', learning_rate=0.02), dict(use_bn=True),
                dict(lr_decay_type='cosine'), dict(lr_decay_type='multistep', lr_decay_milestones=[1, 3]),
                dict(use_complex_weights=True), dict(other_layers=1), dict(loss_func='mse', set_weight_reg=1e-3)]
    for i, v in enumerate(variants):
        train(**(small | v), run_dir=tmp_path / f'a{i}')
    train_ensemble([{k: v for k, v in small.items() if k != 'progress'} | dict(seed=s) for s in (1, 2)],
                   [tmp_path / 'e1', tmp_path / 'e2'], progress=False)
    from group_agf.sequential import make_sequence_config as seq
    short = dict(num_epochs=4, eval_interval=2, save_interval=2, device='cpu')
    train_sequence(seq(preset='d3', data_mode='online', batch_size=8, num_val=8, **short), run_dir=tmp_path / 's1', progress=False)
    train_sequence(seq(preset='c10', k=3, model='QuadraticRNN', hidden=8, optimizer='hybrid', data_mode='sampled',
                       num_samples=40, num_val=10, **short), run_dir=tmp_path / 's2', progress=False)
    train_sequence_ensemble([seq(preset='d3', init_seed=s, **short) for s in (1, 2)], [tmp_path / 'q1', tmp_path / 'q2'],
                            progress=False)
    files = list(tmp_path.glob('*/checkpoints/*.pt'))
    assert len(files) >= 3 * 15
    for f in files: assert load_checkpoint(f)['epoch'] >= 0, f


# ---------------------------------------------------------------- 2. one folder, one configuration, one process

def test_a_finished_folder_rerun_with_other_options_is_refused_naming_the_keys(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run)).returncode == 0
    summary = (run / 'summary.json').read_text()
    res = cli(*BASE, 'learning_rate=0.5', 'seed=3', '--out', str(run))
    assert res.returncode != 0 and 'final train acc' not in res.stdout          # no old results printed
    assert 'learning_rate (folder: 0.01, requested: 0.5)' in res.stderr and 'seed (folder: 0, requested: 3)' in res.stderr
    assert (run / 'summary.json').read_text() == summary


def test_a_half_finished_folder_is_not_continued_under_another_config(tmp_path):
    kw = dict(M='7', hidden_size=16, num_epochs=20, eval_interval=5, save_interval=5, loss_func='mse', progress=False)
    run = tmp_path / 'run'
    train(run_dir=run, **kw, learning_rate=0.01)
    (run / 'summary.json').unlink()
    config = (run / 'config.json').read_text()
    with pytest.raises(ConfigMismatch, match=r'learning_rate \(folder: 0.01, requested: 0.3\)'):
        train(run_dir=run, **kw, learning_rate=0.3)
    assert (run / 'config.json').read_text() == config                          # not rewritten to the new options
    assert issubclass(ConfigMismatch, ValueError)                               # what the CLI maps to exit status 2


def test_cli_exit_status_2_for_another_config_and_a_busy_folder(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run)).returncode == 0
    assert cli(*BASE, 'learning_rate=0.5', '--out', str(run)).returncode == 2
    with locked(tmp_path / 'busy'):
        assert cli(*BASE, '--out', str(tmp_path / 'busy')).returncode == 2


def test_a_second_process_cannot_train_into_a_locked_folder(tmp_path):
    run = tmp_path / 'run'
    slow = [*BASE[:2], 'num_epochs=400000', 'eval_interval=100000', 'save_interval=100000', 'loss_func=mse']
    first = subprocess.Popen([EXE, 'train', *slow, '--no-progress', '--out', str(run)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / 'checkpoints').exists():
            time.sleep(0.05)
        second = cli(*slow, '--out', str(run))
        assert second.returncode != 0 and f'run folder {run} is in use by another process (pid {first.pid})' in second.stderr
    finally:
        first.kill(); first.wait()
    with locked(run): pass                                                      # the kill released the lock


# ---------------------------------------------------------------- 3. a diverged run stays diverged

def test_a_diverged_run_rerun_exits_3_again_until_the_config_changes(tmp_path):
    run = tmp_path / 'run'
    boom = [*BASE, 'optim=sgd', 'learning_rate=1e6', '--out', str(run)]
    first = cli(*boom)
    assert first.returncode == 3, first.stderr[-2000:]
    again = cli(*boom)
    assert again.returncode == 3 and 'diverged at epoch' in again.stderr and 'loss nan' not in again.stdout
    assert strict_json(run / 'summary.json')['status'] == 'diverged'


# ---------------------------------------------------------------- 6. damaged files

def test_a_truncated_or_empty_latest_checkpoint_falls_back_with_a_warning(tmp_path):
    ref = tmp_path / 'ref'
    assert cli(*BASE, '--out', str(ref)).returncode == 0
    for damage in ('truncate', 'empty'):
        run = tmp_path / damage
        assert cli(*BASE, '--out', str(run)).returncode == 0
        (run / 'summary.json').unlink()
        last = run / 'checkpoints' / 'epoch_000020.pt'
        last.write_bytes(last.read_bytes()[:300] if damage == 'truncate' else b'')
        res = cli(*BASE, '--out', str(run))
        assert res.returncode == 0, res.stderr[-2000:]
        assert 'epoch_000020.pt: unreadable' in res.stderr and 'falling back' in res.stderr
        same = lambda p: {k: v for k, v in strict_json(p)['final'].items() if k != 'elapsed_s'}
        assert same(run / 'summary.json') == same(ref / 'summary.json')
        assert load_checkpoint(last)['epoch'] == 20                             # rewritten whole


def test_a_truncated_summary_counts_as_unfinished_with_a_warning(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run)).returncode == 0
    final = strict_json(run / 'summary.json')['final']
    (run / 'summary.json').write_text('{"status": "compl')
    res = cli(*BASE, '--out', str(run))
    assert res.returncode == 0 and 'summary.json: unreadable' in res.stderr, res.stderr[-2000:]
    assert strict_json(run / 'summary.json')['final'] == final


# ---------------------------------------------------------------- 7. NaN, temp files, modes

def test_summary_json_is_strict_json_and_names_the_first_nonfinite_epoch(tmp_path):
    kw = dict(M='7', hidden_size=32, optim='sgd', learning_rate=1e6, num_epochs=50, progress=False)
    with pytest.raises(TrainingDiverged):
        train(**kw, eval_interval=1, run_dir=tmp_path / 'every')
    exact = strict_json(tmp_path / 'every' / 'summary.json')
    with pytest.raises(TrainingDiverged, match=f"non-finite at epoch {exact['diverged_at']} "):
        train(**kw, eval_interval=50, run_dir=tmp_path / 'sparse')
    sparse = strict_json(tmp_path / 'sparse' / 'summary.json')                 # raises on NaN
    assert sparse['status'] == 'diverged' and sparse['diverged_at'] == exact['diverged_at'] < 50
    assert sparse['final']['train_loss'] is None


def test_stale_temp_files_of_a_killed_writer_are_removed_on_the_next_open(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run)).returncode == 0
    (run / 'summary.json').unlink()
    for name in ('.metrics.csv.k1l2m3.tmp', 'checkpoints/.epoch_000025.pt.x9y8.tmp'): (run / name).write_bytes(b'half')
    assert cli(*BASE, '--out', str(run)).returncode == 0
    assert not list(run.rglob('*.tmp'))


def test_run_files_get_the_umask_mode(tmp_path):
    run = tmp_path / 'run'
    assert cli(*BASE, '--out', str(run), umask=0o022).returncode == 0
    for p in ['config.json', 'metrics.csv', 'summary.json', 'curves.png', 'checkpoints/epoch_000020.pt']:
        assert oct((run / p).stat().st_mode & 0o777) == oct(0o644), p


# ---------------------------------------------------------------- fault injection: a sweep killed three times

SPEC = """name: faults
mode: inprocess
base: {M: 7, loss_func: mse, learning_rate: 0.01, num_epochs: 160, eval_interval: 10, save_interval: 20,
       test_size: 0.3, dtype: float64}
grid:
  hidden_size: [16, 24]
seeds: [1, 2, 3, 4]
experiments:
  batched: {}                                      # 2 shapes x 4 seeds: two ensembles of 4
  single: {lr_decay_type: step, lr_decay_step: 50, hidden_size: 16, seeds: [1, 2, 3, 4]}   # not batchable: one fit each
"""
VOLATILE = {'elapsed_s', 'wall_s', 'run_dir', 'run_device'}


def _table(out) -> dict:
    with open(Path(out) / 'results.csv') as f:
        return {r['run_id']: r for r in csv.DictReader(f)}


def _metrics(run_dir) -> list[dict]:
    with open(Path(run_dir) / 'metrics.csv') as f:
        return [{k: float(v) for k, v in r.items() if k not in VOLATILE} for r in csv.DictReader(f)]


def _assert_whole(out):
    "Every file under its real name is complete: JSON parses, CSV rows are full, checkpoints load."
    for p in Path(out).rglob('*'):
        if p.name.endswith('.tmp') or not p.is_file(): continue
        if p.suffix == '.json': strict_json(p)
        elif p.suffix == '.csv':
            rows = list(csv.reader(open(p)))
            assert rows and all(len(r) == len(rows[0]) for r in rows), p
        elif p.suffix == '.pt': load_checkpoint(p)


def _close(a: dict, b: dict, rel=1e-9) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(x) and math.isnan(y)) if math.isnan(x) else math.isclose(x, y, rel_tol=rel, abs_tol=1e-12)
        for x, y in ((a[k], b[k]) for k in a))


def test_a_sweep_killed_three_times_at_random_points_completes_as_if_uninterrupted(tmp_path):
    spec = tmp_path / 'faults.yaml'
    spec.write_text(SPEC)
    rng = random.Random(int(os.environ.get('FAULT_SEED', '13')))
    out = tmp_path / 'killed'
    kills = []
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, '-m', 'group_agf.sweep', str(spec), '--out', str(out), '--no-progress'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not (out / 'plan.json').exists():
            time.sleep(0.02)
        ckpts = lambda: len(list(out.glob('runs/*/checkpoints/*.pt')))
        start = ckpts()
        while time.time() < deadline and proc.poll() is None and ckpts() == start:   # working on runs now
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.8))
        assert proc.poll() is None, "the sweep finished before it could be killed: make the runs longer"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = sum(run_status(d) == 'completed' for d in out.glob('runs/*'))
        kills.append((attempt, done, ckpts()))
        _assert_whole(out)                                      # nothing half-written under a real name, even now
    res = run_sweep(spec, out=out, progress=False)
    ref = run_sweep(spec, out=tmp_path / 'ref', progress=False)
    print(f"\nkills (attempt, completed runs, checkpoints): {kills}; then {len(res.skipped)} skipped, "
          f"{len(res.completed) - len(res.skipped)} finished")
    assert kills[0][1] < 12 and res.ok and ref.ok
    # every run present once
    runs = sorted(p.name for p in (out / 'runs').iterdir())
    table, want = _table(out), _table(tmp_path / 'ref')
    assert len(runs) == len(set(runs)) == 12 and sorted(table) == runs == sorted(want)
    assert all(r['status'] == 'completed' for r in table.values())
    # nothing half-written, nothing left over
    _assert_whole(out)
    assert not list((out / 'runs').rglob('*.tmp')), list((out / 'runs').rglob('*.tmp'))
    assert not list(out.rglob('attempts')) and not list(out.rglob('error.json'))
    for run_id in runs:
        d = out / 'runs' / run_id
        # metrics continuous: one row per evaluation, no gap, no repeat, equal to the checkpoint's history
        m = _metrics(d)
        assert [r['epoch'] for r in m] == list(range(0, 161, 10)), run_id
        last = load_checkpoint(d / 'checkpoints' / 'epoch_000160.pt')
        assert all(_close(a, {k: float(v) for k, v in b.items() if k not in VOLATILE}, 0)
                   for a, b in zip(m, last['history']))
        assert checkpoint_epochs(d) == list(range(0, 161, 20)), run_id
        # results equal to the uninterrupted sweep (float64)
        ref_m = _metrics(tmp_path / 'ref' / 'runs' / run_id)
        assert all(_close(a, b) for a, b in zip(m, ref_m)), run_id
        a, b = ({k: v for k, v in t[run_id].items() if k not in VOLATILE} for t in (table, want))
        assert a.keys() == b.keys()
        for k in a:
            if a[k] != b[k]: assert math.isclose(float(a[k]), float(b[k]), rel_tol=1e-9, abs_tol=1e-12), (run_id, k)
