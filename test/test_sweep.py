"""Sweeps end to end: shipped specs, the 12-run sweep with one failing run (local pool, then Dask LocalCluster),
papermill provenance, resuming after a hard kill, Hydra-style multirun, exit statuses."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

from group_agf.sweep import expand, load_spec, multirun_main, multirun_spec, run_status, run_sweep, sweep_main
from group_agf.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / 'sweeps'
SMOKE = SWEEPS / 'smoke_12_with_failure.yaml'


def rows_of(out):
    with open(Path(out) / 'results.csv') as f:
        return list(csv.DictReader(f))


def test_shipped_specs_expand_and_validate():
    counts = {p.name: len(expand(p)) for p in SWEEPS.glob('*.yaml')}
    assert counts == {'seed000_example.yaml': 300, 'seed000_small.yaml': 8, 'li2_critical_ratio.yaml': 108,
                      'smoke_12_with_failure.yaml': 12, 'seed003_presets.yaml': 15, 'seed003_example_sweep.yaml': 2,
                      'chughtai_s5.yaml': 50, 'chughtai_s5_cpu.yaml': 8}
    groups = {r.config.group for r in expand(SWEEPS / 'seed003_presets.yaml')}
    assert groups == {'cyclic:10', 'abelian:4x4', 'dihedral:3', 'octahedral', 'icosahedral'}


def test_hydra_multirun_is_the_same_sweep_as_the_spec():
    "Seed 000's README command, as `group-agf train -m` tokens, names exactly the runs of seed000_example.yaml."
    tokens = ('activation=sqr loss_func=mse num_epochs=10000 weight_decay=1e-5,5e-5,1e-4,2e-4,5e-4 '
              'hidden_size=256,512,1024,2048 learning_rate=0.01 M=23,71,127 test_size=0.1 save_interval=100 '
              'seed=1,2,3,4,5').split()
    assert {r.run_id for r in expand(multirun_spec(tokens))} == {r.run_id for r in expand(SWEEPS / 'seed000_example.yaml')}


def test_experiment_notebook_parameters_cover_config_and_survive_clean(tmp_path):
    import papermill as pm
    params = pm.inspect_notebook(str(SWEEPS / 'experiment.ipynb'))
    assert set(params) == set(TrainConfig.__dataclass_fields__) | {'run_dir', 'progress'}
    for name, default in TrainConfig().to_dict().items():
        assert params[name]['default'] == repr(default), name
    copy = tmp_path / 'experiment.ipynb'
    shutil.copy(SWEEPS / 'experiment.ipynb', copy)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean'), '--fname', str(copy)], cwd=ROOT, check=True)
    assert copy.read_text() == (SWEEPS / 'experiment.ipynb').read_text()      # committed clean, and the tag survives
    tagged = [c for c in json.loads(copy.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    assert len(tagged) == 1


def test_twelve_runs_one_fails_on_local_pool_then_only_it_is_retried(tmp_path, capsys):
    out = tmp_path / 'sweep'
    t0 = time.perf_counter()
    # one pool worker per listed GPU, pinned with CUDA_VISIBLE_DEVICES (on a machine without these GPUs, device=auto is the CPU)
    assert sweep_main([str(SMOKE), '--gpus', '0,1', '--out', str(out), '--no-progress']) == 1
    first_s = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert '12 runs: 11 completed (0 skipped' in err and '1 failed' in err and 'FAILED' in err and 'TrainingDiverged' in err
    rows = rows_of(out)
    assert sorted(r['status'] for r in rows) == ['completed'] * 11 + ['diverged']
    assert all(r['final_test_acc'] not in ('', None) for r in rows if r['status'] == 'completed')
    bad = Path(next(r['run_dir'] for r in rows if r['status'] == 'diverged'))
    record = json.loads((bad / 'error.json').read_text())
    assert record['error_type'] == 'TrainingDiverged' and 'Traceback' in record['traceback'] and record['pid'] != os.getpid()
    assert record['gpu'] in ('0', '1')
    assert json.loads((out / 'failures.json').read_text())[0]['run_id'] == bad.name
    assert (out / 'figures' / 'y-final_test_acc_x-weight_decay_hue-hidden_size.png').exists()
    done = {Path(r['run_dir']): (Path(r['run_dir']) / 'summary.json').stat().st_mtime_ns for r in rows if r['status'] == 'completed'}

    t0 = time.perf_counter()
    assert sweep_main([str(SMOKE), '--out', str(out), '--no-progress']) == 1     # again, in-process this time
    again_s = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert '12 runs: 11 completed (11 skipped' in err and '1 failed' in err
    assert {d: (d / 'summary.json').stat().st_mtime_ns for d in done} == done      # the 11 were not touched
    assert json.loads((bad / 'error.json').read_text())['attempt'] == 2            # only the failed one was retried
    assert (bad / 'attempts' / '001_error.json').exists()
    print(f"\n12-run sweep: first pass (2 pinned workers) {first_s:.1f} s, second pass {again_s:.1f} s")


def test_twelve_runs_on_a_dask_local_cluster(tmp_path):
    res = run_sweep(SMOKE, out=tmp_path / 'dask', scheduler='local', workers=2, progress=False)
    assert (len(res.runs), len(res.completed), len(res.failed)) == (12, 11, 1) and not res.ok
    assert res.failed[0]['error_type'] == 'TrainingDiverged' and res.failed[0]['pid'] != os.getpid()
    assert sorted(r['status'] for r in rows_of(tmp_path / 'dask')) == ['completed'] * 11 + ['diverged']
    again = run_sweep(SMOKE, out=tmp_path / 'dask', progress=False)     # folders written by Dask workers are recognised
    assert len(again.skipped) == 11 and len(again.failed) == 1
    print(f"\nDask LocalCluster(2 processes): {res.wall_s:.1f} s (cluster start included); rerun in-process {again.wall_s:.1f} s")


def test_papermill_mode_keeps_the_executed_notebook_of_every_run(tmp_path):
    spec = dict(name='pm', mode='papermill',
                base=dict(M=5, hidden_size=8, num_epochs=10, eval_interval=5, loss_func='mse', learning_rate=0.01),
                experiments=dict(ok={}, boom=dict(optim='sgd', learning_rate=1e6)))
    res = run_sweep(spec, out=tmp_path, progress=False)
    assert (len(res.completed), len(res.failed)) == (1, 1)
    ok, boom = (tmp_path / 'runs' / r.run_id for r in res.runs)
    nb = json.loads((ok / 'experiment.ipynb').read_text())
    injected = [c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])]
    assert injected and "M = \"5\"" in ''.join(injected[0]['source']) and str(ok.resolve()) in ''.join(injected[0]['source'])
    assert {'summary.json', 'metrics.csv', 'curves.png', 'config.json'} <= {p.name for p in ok.iterdir()}
    assert (boom / 'experiment.ipynb').exists() and not list(boom.glob('.*partial*'))
    record = json.loads((boom / 'error.json').read_text())
    assert record['error_type'] == 'TrainingDiverged' and record['mode'] == 'papermill'   # the notebook's own exception


def test_a_killed_sweep_resumes_without_losing_finished_runs(tmp_path):
    spec = tmp_path / 'spec.yaml'
    spec.write_text("name: resume\nmode: inprocess\nbase: {M: 7, hidden_size: 16, loss_func: mse, num_epochs: 800, "
                    "eval_interval: 100, save_interval: 100, learning_rate: 0.01}\nseeds: [1, 2, 3, 4, 5, 6]\n")
    out = tmp_path / 'out'
    proc = subprocess.Popen([sys.executable, '-m', 'group_agf.sweep', str(spec), '--out', str(out), '--no-progress'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 150
    while time.time() < deadline and not list(out.glob('runs/*/summary.json')):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)                       # a hard crash, not a polite stop
    proc.wait()
    finished = {d.name: (d / 'summary.json').stat().st_mtime_ns for d in out.glob('runs/*') if run_status(d) == 'completed'}
    assert 1 <= len(finished) < 6, finished
    res = run_sweep(spec, out=out, progress=False)
    assert res.ok and len(res.completed) == 6 and set(res.skipped) == set(finished)
    assert {k: (out / 'runs' / k / 'summary.json').stat().st_mtime_ns for k in finished} == finished


def test_multirun_and_exit_statuses(tmp_path, capsys):
    assert multirun_main(['M=5', 'hidden_size=8,16', 'num_epochs=10', 'eval_interval=5', 'seed=1,2'],
                         out=tmp_path / 'm', progress=False) == 0
    assert len(rows_of(tmp_path / 'm')) == 4
    assert multirun_main(['M=5', 'hidden_size=8,0'], out=tmp_path / 'bad', progress=False) == 2
    assert 'hidden_size' in capsys.readouterr().err and not (tmp_path / 'bad').exists()   # validated before any work
    waiting = tmp_path / 'later.yaml'
    waiting.write_text("name: later\nstatus: waiting for a model that does not exist yet\n")
    assert sweep_main([str(waiting), '--out', str(tmp_path / 'w')]) == 2
    assert sweep_main([str(SMOKE), '--scheduler', 'local', '--gpus', '0', '--out', str(tmp_path / 'x')]) == 2
    assert 'not runnable yet' in capsys.readouterr().err


def test_diverging_ensemble_member_is_not_trained_twice(tmp_path):
    "Two learning rates share one ensemble; the diverging member's failure is recorded, not retrained one by one."
    import group_agf.sweep as sw
    spec = dict(name='ens-div', mode='inprocess', base=dict(M=5, hidden_size=8, optim='sgd', num_epochs=6, eval_interval=1),
                grid=dict(learning_rate=[0.01, 1e6]))
    res = sw.run_sweep(spec, out=tmp_path, progress=False)
    assert len(res.completed) == 1 and len(res.failed) == 1 and res.failed[0]['error_type'] == 'TrainingDiverged'
    bad = Path(res.failed[0]['run_dir'])
    assert not (bad / 'attempts').exists()              # before the fix: the ensemble's record archived, then trained again
    assert json.loads((bad / 'error.json').read_text())['attempt'] == 1
    assert json.loads((bad / 'summary.json').read_text())['status'] == 'diverged'
    assert sorted(r['status'] for r in rows_of(tmp_path)) == ['completed', 'diverged']
    again = sw.run_sweep(spec, out=tmp_path, progress=False)   # a later invocation retries it, as for any failed run
    assert again.failed[0]['attempt'] == 2 and (bad / 'attempts').exists()


def test_interrupted_sweep_has_results_of_the_runs_that_finished(tmp_path, monkeypatch):
    import group_agf.sweep as sw, group_agf.sweep_executors as executors
    real, calls = executors.execute_run, []

    def interrupted_at_the_third(config, run_dir, *args, **kwargs):
        calls.append(run_dir)
        if len(calls) == 3: raise KeyboardInterrupt
        return real(config, run_dir, *args, **kwargs)

    monkeypatch.setattr(executors, 'execute_run', interrupted_at_the_third)   # where the executors look it up
    sw.register_ensemble_trainer(None)                  # one run after another
    try:
        spec = dict(name='intr', mode='inprocess', base=dict(M=5, hidden_size=8, num_epochs=4, eval_interval=2), seeds=[1, 2, 3, 4])
        with pytest.raises(KeyboardInterrupt):
            sw.run_sweep(spec, out=tmp_path, progress=False)
    finally:
        sw.register_ensemble_trainer(sw.batched_train)
    rows = rows_of(tmp_path)                             # before the fix: no results.csv at all
    assert sorted(r['status'] for r in rows) == ['completed', 'completed', 'new', 'new']
    assert all(r['final_test_acc'] for r in rows if r['status'] == 'completed')
