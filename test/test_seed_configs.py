"""Seed 003's own files run as themselves: its configuration files through `group-agf sequence`, its sweep files
through `group-agf sweep` (resumable), and its five experiments as the presets of the same names.

The files in `test/fixtures/seed003/` hold the keys and values of seed 003's `src/config*.yaml`,
`src/sweep_configs/*.yaml`, `test/test_config*.yaml` and `test/test_sweep*.yaml` (facts, written for this package).
"""
import json
from pathlib import Path

import pytest
import yaml

from group_agf.cli import main
from group_agf.sequential.config import SEQUENCE_PRESETS, make_sequence_config, migrate_sequence_config
from group_agf.sequential.seed003 import seed003_options

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / 'test' / 'fixtures' / 'seed003'
CONFIGS = sorted(FIXTURES.glob('src/config*.yaml')) + sorted(FIXTURES.glob('test/test_config*.yaml'))




@pytest.fixture
def no_gpu(monkeypatch):
    "A machine without the seed's cuda:0 (in-process `group-agf`, as test_cli's argument checks run it)."
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_every_seed_config_translates(path):
    opts, notices = seed003_options(yaml.safe_load(path.read_text()))
    cfg = make_sequence_config(opts)
    assert cfg.eval_interval == 1 and cfg.template_seed == cfg.data_seed == cfg.init_seed
    assert cfg.composition == ('left' if cfg.model == 'TwoLayerNet' else 'right')


@pytest.mark.parametrize('name', ['d3', 'octahedral', 'a5', 'c10', 'c4x4'])
def test_presets_are_the_seed_files(name):
    opts, _ = seed003_options(yaml.safe_load((FIXTURES / 'src' / f'config_{name}.yaml').read_text()))
    assert make_sequence_config(opts) == make_sequence_config(preset=name, device=opts['device'])


def test_package_variants_keep_their_own_names():
    assert {'d3_full', 'octahedral_t1', 'a5_t1t2', 'c10_staircase', 'c4x4_fourier', 'dic3'} <= set(SEQUENCE_PRESETS)
    assert make_sequence_config(preset='d3_full').num_epochs == 12000 and make_sequence_config(preset='d3_full').val_fraction == 0


def test_cli_runs_a_seed_config_on_the_cpu(tmp_path, capsys, no_gpu, monkeypatch):
    monkeypatch.setattr('group_agf.sequential.data._MAPS_SHOWN', set())   # the map prints once per process: as a fresh one
    assert main(['sequence', str(FIXTURES / 'src' / 'config_d3.yaml'), 'num_epochs=30', '--no-progress',
                 '--out', str(tmp_path / 'run')]) == 0
    out = capsys.readouterr().out
    assert 'device: cuda:0 is not available on this machine; running on the CPU' in out
    cfg = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert (cfg['powers_order'], cfg['val_fraction'] * 36, cfg['offline_batches'], cfg['num_epochs']) == ('escnn', 3.0, True, 30)
    assert 'powers of D3 in escnn' in out                             # the escnn -> real_irreps map is printed


def test_cli_runs_a_seed_sweep_and_resumes(tmp_path, capsys):
    args = ['sweep', str(FIXTURES / 'test' / 'test_sweep_example.yaml'), '--no-progress', '--out', str(tmp_path / 'sw')]
    assert main(args) == 0
    runs = sorted((tmp_path / 'sw' / 'runs').glob('*/summary.json'))
    assert len(runs) == 2
    stamps = [p.stat().st_mtime_ns for p in runs]
    assert main(args) == 0 and [p.stat().st_mtime_ns for p in runs] == stamps   # completed runs are not retrained
    assert '0 failed' in capsys.readouterr().out


def test_format1_config_json_keeps_its_meaning():
    old = {k: v for k, v in make_sequence_config().to_dict().items() if k not in ('config_version', 'hybrid_lr', 'scaling_factor')}
    old |= dict(adam_lr=0.001, reduction_threshold=0.1, optimizer='per_neuron', nonlinearity='relu')
    new = migrate_sequence_config(old, verbose=False)
    assert new['reduction_threshold'] == pytest.approx(0.9) and new['degree'] == 1.0 and 'adam_lr' not in new
    with pytest.raises(ValueError, match='adam_lr: removed in format 2'):
        make_sequence_config(adam_lr=0.01)


def _write_idx(path, array):
    "An IDX file of unsigned bytes (MNIST's format), gzipped: a few fake images stand in for MNIST (none ships)."
    import gzip
    import numpy as np
    raw = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, '>u4').tobytes() + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw))


@pytest.mark.parametrize('where', ['config', 'environment'])
def test_cli_runs_a_seed_mnist_config_from_a_file_on_disk(tmp_path, capsys, no_gpu, monkeypatch, where):
    import numpy as np
    from group_agf.sequential.data import make_group
    from group_agf.sequential.run import sequence_template
    from group_agf.sequential.templates2d import mnist_2d
    raw = tmp_path / 'MNIST' / 'raw'
    raw.mkdir(parents=True)
    images = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28))
    _write_idx(raw / 'train-images-idx3-ubyte.gz', images)
    _write_idx(raw / 'train-labels-idx1-ubyte.gz', np.array([2, 7, 7, 2, 7]))
    data = yaml.safe_load((FIXTURES / 'src' / 'config_c4x4.yaml').read_text())
    data['data'] |= dict(template_type='mnist', mnist_label=7, p1=6, p2=6)
    if where == 'config': data['data']['mnist_file'] = str(raw)
    else: monkeypatch.setenv('GROUP_AGF_MNIST', str(raw / 'train-images-idx3-ubyte.gz'))
    path = tmp_path / 'config_mnist.yaml'
    path.write_text(yaml.safe_dump(data))
    assert main(['sequence', str(path), 'num_epochs=2', '--no-progress', '--out', str(tmp_path / 'run')]) == 0
    assert 'mnist digit 7 read from' in capsys.readouterr().out
    stored = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert (stored['template'], stored['digit'], stored['group']) == ('mnist', 7, 'abelian:6x6')
    cfg = make_sequence_config(stored)
    x = sequence_template(cfg, make_group(cfg.group), verbose=False)
    drawn = [1, 2, 4][np.random.default_rng(cfg.template_seed).integers(3)]   # the template_seed-th draw among the 7s
    img = mnist_2d(images[drawn] / 255.0, 6, 6).reshape(-1)                 # the seed's bilinear resize
    assert np.allclose(x, img - img.mean(), atol=1e-12)


def test_seed_mnist_config_without_a_file_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv('GROUP_AGF_MNIST', raising=False)
    data = yaml.safe_load((FIXTURES / 'src' / 'config_c4x4.yaml').read_text())
    data['data'] |= dict(template_type='mnist', mnist_label=3)
    opts, notices = seed003_options(data)
    assert opts['template'] == 'digits' and opts['digit'] == 3
    assert any('data.mnist_file' in n and 'GROUP_AGF_MNIST' in n and 'nothing is downloaded' in n for n in notices)


def test_new_template_options_keep_old_folder_names():
    from group_agf.sequential.run import sequence_run_name
    from group_agf.sequential.templates2d import FAMILY_OPTIONS
    assert sequence_run_name(make_sequence_config()) == 'seq_defaults_45b4a414'          # the names before they existed
    assert sequence_run_name(make_sequence_config(preset='d3')).endswith('_e5b88f35')
    assert sequence_run_name(make_sequence_config(preset='c4x4')).endswith('_de3d7696')
    cfg = make_sequence_config().to_dict()
    for name, default in FAMILY_OPTIONS.items():                                          # the seed's defaults, in both
        assert cfg[name] == (list(default) if isinstance(default, tuple) else default), name
    hexagon = make_sequence_config(group='abelian:8x8', template='hexagon_tie_2d')
    assert sequence_run_name(make_sequence_config(hexagon, k0=3.0)) != sequence_run_name(hexagon)
