"""The contributor's walk of issue 12: one loop option, `max_wall_s`, declared once (`config.max_wall_s_option`) and run
by the engine, works for single runs, both kinds of ensemble and sweeps; a run stopped by it resumes when started again
(the option does not name the run, so the same folder is found and accepted)."""
from pathlib import Path

import pytest

from group_agf.ensemble import train_ensemble
from group_agf.engine import OUT_OF_TIME
from group_agf.sequence_ensemble import train_sequence_ensemble
from group_agf.sequential.config import make_sequence_config
from group_agf.sweep import run_sweep
from group_agf.train import make_config, run_name, train

BASE = dict(M=11, hidden_size=16, num_epochs=200, eval_interval=20, save_interval=50, device='cpu')
NOW = 1e-9   # a budget spent before the first step


def test_single_run_stops_with_a_checkpoint_and_resumes(tmp_path):
    cut = train(BASE | dict(max_wall_s=NOW), run_dir=tmp_path, progress=False)
    assert cut.summary['status'] == 'out_of_time' and cut.history[-1]['epoch'] == 0
    assert (tmp_path / OUT_OF_TIME).exists() and not (tmp_path / 'summary.json').exists()
    assert run_name(make_config(BASE | dict(max_wall_s=NOW))) == run_name(make_config(BASE))   # names the same run
    done = train(BASE, run_dir=tmp_path, progress=False)
    assert done.summary['status'] == 'completed' and done.history[-1]['epoch'] == 200 and not (tmp_path / OUT_OF_TIME).exists()
    assert [h['train_loss'] for h in done.history] == pytest.approx([h['train_loss'] for h in train(BASE, progress=False).history])


def test_both_ensembles_stop_every_member(tmp_path):
    arith = train_ensemble([BASE | dict(seed=s, max_wall_s=NOW) for s in (1, 2)], [tmp_path / 'a1', tmp_path / 'a2'], progress=False)
    seq = train_sequence_ensemble([make_sequence_config(preset='d3', hidden=8, num_epochs=100, eval_interval=10, init_seed=s,
                                                        device='cpu', max_wall_s=NOW) for s in (0, 1)],
                                  [tmp_path / 's1', tmp_path / 's2'], progress=False)
    assert [r.summary['status'] for r in arith + seq] == ['out_of_time'] * 4
    again = train_ensemble([BASE | dict(seed=s) for s in (1, 2)], [tmp_path / 'a1', tmp_path / 'a2'], progress=False)
    assert [(r.summary['status'], r.history[-1]['epoch']) for r in again] == [('completed', 200)] * 2


def test_a_sweep_reports_out_of_time_and_finishes_when_run_again(tmp_path):
    spec = dict(name='budget', mode='inprocess', base=BASE | dict(max_wall_s=NOW), grid=dict(seed=[1, 2, 3]))
    first = run_sweep(spec, out=tmp_path, progress=False)
    assert not first.ok and [f['status'] for f in first.failed] == ['out_of_time'] * 3
    assert '0 failed, 3 out of time' in first.report() and not list(Path(tmp_path).rglob('error.json'))
    second = run_sweep(spec | dict(base=BASE), out=tmp_path, progress=False)
    assert second.ok and len(second.completed) == 3
