"""Per-irrep columns of a sweep's table and the learned-irrep report, on a tiny sweep of S_3 and Z_5."""
import csv
import json
import shutil
from pathlib import Path

import pytest

from group_agf.cli import main
from group_agf.irrep_statistics import TIMELINE_FILE, irrep_statistics, key_timeline
from group_agf.sweep import run_sweep

BASE = dict(hidden_size=32, activation='relu', optim='adamw', weight_decay=1.0, learning_rate=3e-3, test_size=0.2,
            num_epochs=200, eval_interval=50, save_interval=50)


SPEC = dict(name='irrep_cols', mode='inprocess', seeds=[0, 1], base=BASE,
            experiments=dict(s3=dict(group_type='sym', M='3'), z5=dict(group_type='modular_addition', M='5')))


@pytest.fixture(scope='module')
def sweep(tmp_path_factory):
    "Two groups (S_3 and Z_5), two seeds each, in-process: one ensemble per group."
    out = tmp_path_factory.mktemp('irrep_sweep')
    res = run_sweep(SPEC, out=out, progress=False)
    assert res.ok, res.report()
    return out, res


def rows_of(out):
    with open(Path(out) / 'results.csv') as f:
        return list(csv.DictReader(f))


def test_results_have_one_key_and_one_epoch_column_per_irrep_of_the_runs_group(sweep):
    out, res = sweep
    rows = rows_of(out)
    assert len(rows) == 4
    s3_cols = {f'irrep_{n}_{c}' for n in ('1d0', '1d1', '2d2') for c in ('key', 'epoch')}
    assert s3_cols <= set(rows[0])
    for row in rows:
        timeline = json.loads((Path(row['run_dir']) / TIMELINE_FILE).read_text())
        names = [p['irrep'] for p in timeline['irreps']]
        summary = json.loads((Path(row['run_dir']) / 'summary.json').read_text())
        assert sorted(n for n in names if row[f'irrep_{n}_key'] == '1') == sorted(summary['key_irreps'])
        for n in names:                                   # an epoch exactly for the learned ones, a checkpoint epoch
            epoch = row[f'irrep_{n}_epoch']
            assert (epoch != '') == (row[f'irrep_{n}_key'] == '1')
            assert epoch == '' or int(epoch) in timeline['checkpoints'] + [int(row['epochs'])]
        other = [k for k in rows[0] if k.startswith('irrep_') and k.split('_')[1] not in names]
        assert all(row[k] == '' for k in other)           # the other group's irreps: empty


def test_timeline_is_cached_and_recomputed_when_checkpoints_change(sweep):
    out, res = sweep
    run_dir = Path(res.rows[0]['run_dir'])
    first = key_timeline(run_dir)
    path = run_dir / TIMELINE_FILE
    path.write_text(json.dumps(first | dict(key=['stale'])))
    assert key_timeline(run_dir)['key'] == ['stale']      # same checkpoints, same threshold: the cache
    assert key_timeline(run_dir, threshold=0.2)['key'] != ['stale']
    (run_dir / 'checkpoints' / 'epoch_000050.pt').unlink()
    again = key_timeline(run_dir)
    assert again['checkpoints'] == [e for e in first['checkpoints'] if e != 50]


def test_report_per_group_and_cli(sweep, capsys):
    out, _ = sweep
    stats = {st.label.split(',')[0]: st for st in irrep_statistics(out)}
    assert set(stats) == {'S3', 'C5'} and all(st.runs == 2 for st in stats.values())
    for st in stats.values():
        assert all(r['wilson_low'] <= r['share'] <= r['wilson_high'] for r in st.table)
        assert sum(st.key_counts.values()) == 2
    assert main(['report', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'S3' in text and 'learning order' in text and (out / 'irrep_statistics.json').exists()
    assert main(['report', str(out / 'runs')]) == 2


def test_folders_without_irrep_data_aggregate_as_before(sweep, tmp_path):
    "A sweep folder written before runs recorded key irreps: the same table, without irrep columns."
    out, _ = sweep
    old = tmp_path / 'old'
    shutil.copytree(out, old)
    for summary in old.glob('runs/*/summary.json'):
        data = json.loads(summary.read_text())
        summary.write_text(json.dumps({k: v for k, v in data.items() if 'irrep' not in k and k != 'logit_similarity'}))
        (summary.parent / TIMELINE_FILE).unlink()
    res = run_sweep(SPEC, out=old, progress=False)       # every run already completed: skipped, then aggregated
    assert res.ok and len(res.skipped) == 4
    rows = rows_of(old)
    assert not any(k.startswith('irrep_') for k in rows[0]) and all(r['status'] == 'completed' for r in rows)
    assert not list(old.glob('runs/*/' + TIMELINE_FILE))
