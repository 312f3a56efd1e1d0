"""Chughtai et al.'s network (`model='concat_mlp'`) through the whole pipeline: ensemble = single runs, checkpoints and
resume, the command line with the preset, run folders written before the new options, irreps, explorer, sweeps."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

from group_agf.ensemble import train_ensemble
from group_agf.train import TrainConfig, load_run, make_config, run_name, train

EXE = shutil.which('group-agf') or str(Path(sys.executable).parent / 'group-agf')
SMALL = dict(preset='chughtai', M='3', embed_dim=8, hidden_size=16, num_epochs=30, eval_interval=5, save_interval=None,
             device='cpu', dtype='float64')
METRICS = ('train_loss', 'test_loss', 'train_acc', 'test_acc')


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def test_ensemble_of_three_equals_the_three_single_runs():
    "Members differing in seed, learning rate and weight decay: histories and weights as alone, to 1e-5 relative (float64)."
    cfgs = [make_config(**SMALL, seed=s, learning_rate=lr, weight_decay=wd)
            for s, lr, wd in ((1, 1e-3, 1.0), (2, 3e-3, 0.5), (3, 2e-3, 1.0))]
    for r, c in zip(train_ensemble(cfgs, progress=False), cfgs):
        alone = train(c, progress=False)
        assert [h['epoch'] for h in r.history] == [h['epoch'] for h in alone.history]
        assert max(rel(a[k], b[k]) for a, b in zip(r.history, alone.history) for k in METRICS) < 1e-5
        for name, p in alone.model.state_dict().items():
            assert torch.allclose(r.model.state_dict()[name], p, rtol=1e-5, atol=1e-9), name
    assert alone.history[-1]['train_loss'] < 0.9 * alone.history[0]['train_loss']


def test_ensemble_checkpoints_resume_alone_and_together(tmp_path):
    "A member's checkpoint is `train`'s (weights, AdamW state): an interrupted ensemble and a member alone both resume exactly."
    cfgs = [make_config(**SMALL | dict(save_interval=10), seed=s) for s in (1, 2)]
    dirs = [tmp_path / f'seed{s}' for s in (1, 2)]
    full = train_ensemble(cfgs, dirs, progress=False)
    for d in dirs:                                       # what a kill after epoch 20 leaves
        (d / 'summary.json').unlink(); (d / 'checkpoints' / 'epoch_000030.pt').unlink()
    resumed = train_ensemble(cfgs, dirs, progress=False)
    (dirs[1] / 'summary.json').unlink(); (dirs[1] / 'checkpoints' / 'epoch_000030.pt').unlink()
    (dirs[1] / 'checkpoints' / 'epoch_000020.pt').unlink()
    alone = train(cfgs[1], run_dir=dirs[1], progress=False)          # from the member's epoch-10 checkpoint
    for a, b in ((full[0], resumed[0]), (full[1], resumed[1]), (full[1], alone)):
        assert max(rel(x['train_loss'], y['train_loss']) for x, y in zip(a.history, b.history)) < 1e-9
        assert torch.allclose(a.model.E.weight, b.model.E.weight, atol=1e-12)
    back = load_run(dirs[0])
    assert torch.equal(back.model.W.weight, full[0].model.W.weight) and back.config.model == 'concat_mlp'


def test_command_line_preset_irreps_and_explorer(tmp_path):
    "`group-agf train preset=chughtai ...` trains, writes a loadable folder; irreps.png and the explorer work on it."
    out = tmp_path / 'run'
    res = subprocess.run([EXE, 'train', 'preset=chughtai', 'M=3', 'embed_dim=8', 'hidden_size=16', 'num_epochs=40',
                          'save_interval=20', 'device=cpu', '--out', str(out), '--no-progress'],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    cfg = json.loads((out / 'config.json').read_text())
    assert (cfg['model'], cfg['adam_betas'], cfg['weight_decay'], cfg['test_size']) == ('concat_mlp', [0.9, 0.98], 1.0, 0.6)
    assert json.loads((out / 'summary.json').read_text())['status'] == 'completed'
    from group_agf.irrep_analysis import write_irrep_report
    info = write_irrep_report(out, load_run(out))
    assert Path(info['irreps_png']).is_file() and 'key_irreps' in info
    from group_agf.explore import CheckpointExplorer
    ex = CheckpointExplorer(out)
    assert ex.epochs == [0, 20, 40] and ex.spectra().first.shape == (16, len(ex.spectra().names))
    bad = subprocess.run([EXE, 'train', 'preset=chughtai', 'use_bn=true'], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "use_bn: got True with model='concat_mlp'" in bad.stderr


def test_folders_written_before_the_new_options_keep_their_name_and_resume(tmp_path):
    "A config.json without model, embed_dim, adam_betas (an older run) is the same configuration as today's default."
    kw = dict(M='5', hidden_size=8, num_epochs=10, eval_interval=5, save_interval=5, device='cpu')
    cfg = make_config(**kw)
    assert run_name(cfg) == run_name(make_config(**kw, model='cogs', embed_dim=256, adam_betas=[0.9, 0.999]))
    done = train(cfg, run_dir=tmp_path, progress=False)
    old = {k: v for k, v in json.loads((tmp_path / 'config.json').read_text()).items()
           if k not in ('model', 'embed_dim', 'adam_betas')}
    (tmp_path / 'config.json').write_text(json.dumps(old))
    (tmp_path / 'summary.json').unlink()                 # unfinished: resumes from its last checkpoint
    again = train(cfg, run_dir=tmp_path, progress=False)
    assert again.history[-1]['train_loss'] == pytest.approx(done.history[-1]['train_loss'], rel=1e-6)
    assert load_run(tmp_path).config == cfg
    assert set(TrainConfig().to_dict()) - set(old) == {'model', 'embed_dim', 'adam_betas'}


def test_inprocess_sweep_batches_the_preset(tmp_path):
    "A sweep spec with `preset: chughtai` and seeds runs in-process (as one ensemble) and aggregates."
    from group_agf.sweep import run_sweep
    spec = dict(name='universality-tiny', mode='inprocess', base=SMALL | dict(num_epochs=10), seeds=[1, 2, 3])
    res = run_sweep(spec, out=tmp_path, progress=False)
    assert len(res.completed) == 3 and not res.failed
    rows = (tmp_path / 'results.csv').read_text().splitlines()
    assert len(rows) == 4 and 'concat_mlp' in rows[1]
