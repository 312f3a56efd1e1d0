"""The irrep report and the progress measures on real run folders (train, reload, write figures and summary fields)."""
import json

import torch

from group_agf.irrep_analysis import irrep_lines, write_irrep_report
from group_agf.progress import write_progress_report
from group_agf.rundir import read_json
from group_agf.train import load_run, train

torch.set_num_threads(1)


def test_irrep_and_progress_reports_on_a_run_folder(tmp_path):
    run = train(dict(M='13', hidden_size=32, num_epochs=300, eval_interval=50, save_interval=50, test_size=0.5),
                run_dir=tmp_path, progress=False)
    summary = read_json(tmp_path / 'summary.json')               # training wrote the report into its summary
    assert (tmp_path / 'irreps.png').stat().st_size > 10_000 and summary['irreps_png'] == str((tmp_path / 'irreps.png').resolve())
    info = write_irrep_report(tmp_path, run)
    assert info == write_irrep_report(tmp_path, load_run(tmp_path))   # the reloaded run gives the same report
    assert {k: summary[k] for k in info} == json.loads(json.dumps(info))
    json.dumps(info)                                             # ready for summary.json
    assert len(info['key_irreps']) == len(info['key_frequencies']) > 0
    assert set(info['key_frequencies']) <= set(range(1, 7))
    assert irrep_lines(info)[-1] == f"figures: {tmp_path.resolve() / 'curves.png'} and {tmp_path.resolve() / 'irreps.png'}"
    progress = write_progress_report(tmp_path, run)
    assert progress['n_checkpoints'] == 7 and (tmp_path / 'progress.png').exists()
    summary = read_json(tmp_path / 'summary.json')
    assert summary['phases'] == progress['phases'] and summary['status'] == 'completed'


def test_irrep_report_skips_an_expression_task(tmp_path):
    run = train(dict(group_type='expression', expression='x^2 + y', M='7', hidden_size=8, num_epochs=20,
                     eval_interval=10, save_interval=None), run_dir=tmp_path, progress=False)
    info = write_irrep_report(tmp_path, run)
    assert info == dict(irreps_png=None, irreps_skipped='no group (expression task)')
    assert not (tmp_path / 'irreps.png').exists()
