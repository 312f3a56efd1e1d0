"""Papermill sweeps with one kept kernel per worker (`reuse_kernel`, 09d_sweep_kernel): the same results as a fresh
kernel per run, even after a run that changed the kernel's global state; the executed notebook kept per run; a run
that kills its kernel or hangs is recorded as failed and the next run gets a fresh kernel."""
import csv
import json
import math
from pathlib import Path

import nbformat
import pytest

from group_agf.sweep import execute_run, expand, run_status, run_sweep
from group_agf.sweep_kernel import discard_worker_kernel, execute_in_kernel, worker_kernel
from group_agf.train import make_config

SPEC = dict(name='kept', mode='papermill', base=dict(M=5, hidden_size=8, num_epochs=5, eval_interval=5, save_interval=5,
                                                     test_size=0.3), seeds=[1, 2, 3])
KERNELSPEC = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}


def notebook(path: Path, code: str) -> Path:
    "A notebook with a `parameters` cell (run_dir) and one cell of `code`, written to `path`."
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("run_dir = None", metadata={'tags': ['parameters']}),
        nbformat.v4.new_code_cell(code)], metadata={'kernelspec': KERNELSPEC}), path)
    return path


def history(run_dir: Path) -> list[dict]:
    "A run's metrics.csv as floats, without its wall-clock column."
    with open(run_dir / 'metrics.csv') as f:
        return [{k: float(v) for k, v in row.items() if k != 'elapsed_s' and v != ''} for row in csv.DictReader(f)]


def assert_same_run(a: Path, b: Path):
    "Two run folders hold the same history and final metrics (relative 1e-10)."
    ha, hb = history(a), history(b)
    assert len(ha) == len(hb) > 1 and [r.keys() for r in ha] == [r.keys() for r in hb]
    for ra, rb in zip(ha, hb):
        assert all(math.isclose(ra[k], rb[k], rel_tol=1e-10) for k in ra), (ra, rb)
    fa, fb = ({k: v for k, v in json.loads((d / 'summary.json').read_text())['final'].items() if k != 'elapsed_s'} for d in (a, b))
    assert fa.keys() == fb.keys() and all(fa[k] == fb[k] or math.isclose(fa[k], fb[k], rel_tol=1e-10) for k in fa), (fa, fb)


@pytest.fixture(scope='module')
def fresh(tmp_path_factory):
    "The 3-run sweep with a fresh kernel per run (the default)."
    res = run_sweep(SPEC, out=tmp_path_factory.mktemp('fresh'), progress=False)
    assert res.ok and len(res.completed) == 3
    return res.out


def test_kept_kernel_sweep_equals_fresh_kernels(fresh, tmp_path):
    res = run_sweep(SPEC | dict(reuse_kernel=True), out=tmp_path / 'kept', progress=False)
    assert res.ok and len(res.completed) == 3
    for r in res.runs:
        assert_same_run(fresh / 'runs' / r.run_id, res.out / 'runs' / r.run_id)
        assert (res.out / 'runs' / r.run_id / 'experiment.ipynb').exists()       # the executed notebook, per run
    assert not discard_worker_kernel()                                          # the sweep stopped its kernel


def test_run_after_a_polluting_run_equals_a_fresh_kernel(fresh, tmp_path):
    polluter = notebook(tmp_path / 'polluter.ipynb', "import torch, matplotlib, os\n"
                        "torch.set_default_dtype(torch.float64); torch.set_num_threads(2); torch.manual_seed(99)\n"
                        "matplotlib.rcParams['lines.linewidth'] = 7; os.environ['OMP_NUM_THREADS'] = '2'\n"
                        "M, seed, hidden_size = '7', 5, 64   # globals named like the experiment's parameters")
    run = expand(SPEC)[0]
    try:
        (tmp_path / 'p').mkdir()
        kernel = execute_in_kernel(polluter, tmp_path / 'p' / 'out.ipynb', {}, tmp_path / 'p')
        rec = execute_run(run.config, tmp_path / run.run_id, 'papermill', reuse_kernel=True)
        assert rec['status'] == 'completed' and rec['kernel_id'] == kernel          # the same kernel, reset
    finally:
        discard_worker_kernel()
    assert_same_run(fresh / 'runs' / run.run_id, tmp_path / run.run_id)


def test_dead_kernel_or_failed_run_is_recorded_and_replaced(tmp_path):
    a, b = expand(SPEC)[:2]
    killer = notebook(tmp_path / 'killer.ipynb', "import os\nos._exit(1)")
    try:
        first = execute_run(a.config, tmp_path / 'a', 'papermill', reuse_kernel=True)
        dead = execute_run(b.config, tmp_path / 'dies', 'papermill', notebook=killer, reuse_kernel=True)
        assert dead['status'] == 'failed' and dead['error_type'] == 'DeadKernelError', dead
        assert json.loads((tmp_path / 'dies' / 'error.json').read_text())['error_type'] == 'DeadKernelError'
        assert (tmp_path / 'dies' / 'experiment.ipynb').exists() and run_status(tmp_path / 'dies') == 'failed'
        retried = execute_run(b.config, tmp_path / 'dies', 'papermill', reuse_kernel=True)   # the retry, as a sweep does
        assert retried['status'] == 'completed' and retried['attempt'] == 2
        assert retried['kernel_id'] != first['kernel_id']                        # a fresh kernel after the dead one
        diverges = make_config(a.config.to_dict() | dict(optim='sgd', learning_rate=1e6))
        failed = execute_run(diverges, tmp_path / 'diverges', 'papermill', reuse_kernel=True)
        assert failed['status'] == 'failed' and failed['error_type'] == 'TrainingDiverged'   # as without reuse
        assert worker_kernel().kernel_id != retried['kernel_id']               # a failed run's kernel is not reused
    finally:
        discard_worker_kernel()


def test_hung_run_times_out_and_the_kernel_is_replaced(tmp_path):
    sleeper = notebook(tmp_path / 'sleeper.ipynb', "import time\ntime.sleep(120)")
    (tmp_path / 'hangs').mkdir()
    try:
        before = worker_kernel().kernel_id
        with pytest.raises(TimeoutError, match='timed out'):
            execute_in_kernel(sleeper, tmp_path / 'hangs' / 'out.ipynb', {}, tmp_path / 'hangs', timeout=2)
        assert worker_kernel().kernel_id != before
    finally:
        discard_worker_kernel()
