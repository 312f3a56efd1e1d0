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
    """D3 from the CLI (`d3_full`: all 36 pairs; seed 003's `d3` holds 3 out): the first plateau drop (505 -> 5) within 300 epochs."""
    res = run('sequence', 'preset=d3_full', 'num_epochs=300', 'eval_interval=50', '--no-progress', '--out', str(tmp_path / 'run'))
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


# --- issue 13, items 4, 5, 7: bad inputs are refused before any work, exit 2, one line naming key, value, allowed ---
from group_agf.cli import main  # noqa: E402  (in-process: the checks below need no subprocess per case)

DEEP = '(' * 300 + 'x' + ')' * 300


@pytest.fixture(autouse=True)
def _memory_env_restored(monkeypatch):
    "`--max-memory-gb` exports GROUP_AGF_MAX_MEMORY_GB in-process: start each test at the default and restore it after."
    monkeypatch.setenv('GROUP_AGF_MAX_MEMORY_GB', '8')


@pytest.mark.parametrize('tokens, message', [
    (['M=abc'], "M: got 'abc' with group_type='modular_addition'; allowed: an integer >= 2"),
    (['M=0'], "M: got '0' with group_type='modular_addition'; allowed: an integer >= 2"),
    (['M=1'], "M: got '1' with group_type='modular_addition'; allowed: an integer >= 2"),
    (['M=2x0'], "M: got '2x0' with group_type='modular_addition'; allowed:"),
    (['group_type=sym', 'M=20'], "M: got '20' with group_type='sym'; allowed: an integer in 2..7"),
    (['M=5', 'test_size=0.999'], "test_size: got 0.999 for 25 examples, which leaves no training example; allowed:"),
    (['M=5', 'seed=99999999999999999999'], "seed: got 99999999999999999999; allowed: an integer in [0, 9223372036854775807]"),
    (['group_type=expression', 'M=7', f'expression={DEEP}'], "expression: '(((((("),
    (['group_type=expression', 'M=7', 'expression=' + '-' * 999 + 'x'], "nests 999 operators deep; allowed: at most 100"),
    (['group_type=expression', 'M=7', 'expression=' + '+'.join(['x'] * 5000)], "allowed: at most 1000 characters"),
    (['critical_ratio_multiplier=inf'], "allowed: a finite real number in (0.0, inf)"),
    (['M=100000'], "M: '100000' with group_type='modular_addition' (a Cayley table of order 100000) needs about 298 GiB"),
    (['M=10000'], "num_of_ops: 10000**2 = 100000000 operand tuples; allowed: at most 67108864"),
    (['M=3000', '--max-memory-gb', '0.1'], "needs about 0.268 GiB of memory (estimated before allocating); allowed: at most 0.1 GiB"),
])
def test_train_refuses_bad_inputs_in_one_line_before_work(tmp_path, capsys, tokens, message):
    out = tmp_path / 'run'
    assert main(['train', *tokens, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    assert not out.exists()


def test_memory_limit_from_the_environment_and_its_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('GROUP_AGF_MAX_MEMORY_GB', '0.05')
    assert main(['train', 'M=1000', '--out', str(tmp_path / 'r')]) == 2
    assert 'allowed: at most 0.05 GiB, the limit, which GROUP_AGF_MAX_MEMORY_GB=<GiB> or --max-memory-gb raises' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(['train', 'M=5', '--max-memory-gb', '-1'])
    assert e.value.code == 2 and '--max-memory-gb: got -1.0; allowed: a number of GiB above 0' in capsys.readouterr().err


@pytest.mark.parametrize('tokens, message', [
    (['group=smallgroup:abc'], "group: got 'smallgroup:abc'; expected <order>,<id>; allowed: smallgroup:<order>,<id>"),
    (['group=cyclik:10'], "unknown group family 'cyclik' (did you mean 'cyclic'?)"),
    (['group=cyclic:100000'], "group: 'cyclic:100000' (a Cayley table of order 100000) needs about 298 GiB"),
])
def test_sequence_sweep_refuses_bad_groups_before_the_first_run(tmp_path, capsys, tokens, message):
    "Through the sweep engine (`sequence -m`): validated with `check_group_spec`, nothing built, nothing run."
    out = tmp_path / 'sweep'
    assert main(['sequence', '-m', *tokens, 'init_seed=0,1', '--out', str(out), '--no-progress']) == 2
    err = capsys.readouterr().err
    assert message in err and 'nothing was run' in err, err
    assert not (out / 'runs').exists()


def test_key_value_after_a_flag_is_accepted(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', 'M=5', '--no-progress', 'hidden_size=8', 'num_epochs=3', '--out', str(out), 'eval_interval=1']) == 0
    cfg = json.loads((out / 'config.json').read_text())
    assert (cfg['M'], cfg['hidden_size'], cfg['num_epochs'], cfg['eval_interval']) == ('5', 8, 3, 1)
    with pytest.raises(SystemExit) as e:                     # a flag that does not exist is still an error
        main(['train', 'M=5', '--no-progress', '--bogus'])
    assert e.value.code == 2 and 'unrecognized arguments: --bogus' in capsys.readouterr().err


def test_sequence_help_shows_only_accepted_keys(capsys):
    with pytest.raises(SystemExit):
        main(['sequence', '--help'])
    text = capsys.readouterr().out
    assert 'num_epochs=12000' in text and ' epochs=12000' not in text


def test_sweep_missing_file_and_broken_yaml(tmp_path, capsys):
    assert main(['sweep', str(tmp_path / 'missing.yaml')]) == 2
    assert f"spec: no such file '{tmp_path / 'missing.yaml'}'" in capsys.readouterr().err
    bad = tmp_path / 'bad.yaml'
    bad.write_text("name: x\nbase: {M: 5\n")
    assert main(['sweep', str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"spec {bad.resolve()}: invalid YAML at line 3" in err and '<unicode string>' not in err, err


@pytest.mark.parametrize('command, config', [('train', 'group_agf.train.TrainConfig'),
                                             ('sequence', 'group_agf.sequential.config.SequenceConfig')])
def test_help_lists_every_key_with_type_default_and_help(command, config, capsys):
    "The help is generated from the fields' declarations (`config.option`): every key, its type, default and help."
    import dataclasses, importlib
    module, name = config.rsplit('.', 1)
    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(SystemExit):
        main([command, '--help'])
    text = capsys.readouterr().out
    for f in dataclasses.fields(cls):
        line = next((l for l in text.splitlines() if l.strip().startswith(f'{f.name}=')), None)
        assert line is not None, f"{command} --help does not list {f.name}"
        assert '(default ' in line and f.metadata['help'].split()[0] in line, line


SEED000_FILE = Path(__file__).parent / 'fixtures' / 'seed000' / 'dyn_madd.yaml'


def test_train_reads_seed000_config_file_with_overrides(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', str(SEED000_FILE), '--out', str(out)]) == 2      # as shipped it fails the seed's own check
    err = capsys.readouterr().err
    assert "set_weight_reg: got 0.001 with loss_func='nll'; allowed: set_weight_reg=None, or loss_func='mse'" in err, err
    assert not out.exists()
    tokens = ['set_weight_reg=null', 'M=5', 'hidden_size=8', 'num_epochs=3', 'eval_interval=1', 'save_interval=null', 'test_size=0.4']
    assert main(['train', str(SEED000_FILE), *tokens, '--no-progress', '--out', str(out)]) == 0
    config = json.loads((out / 'config.json').read_text())
    assert (config['M'], config['hidden_size'], config['weight_decay'], config['init_save_range'], config['loss_func']) == \
        ('5', 8, 1e-4, 200, 'nll')                                          # the file's values where no override is given
    assert json.loads((out / 'summary.json').read_text())['epochs'] == 3


def test_train_refuses_an_unreadable_split_file_before_work(tmp_path, capsys):
    (tmp_path / 'split.pt').write_text('not a torch file')
    out = tmp_path / 'run'
    assert main(['train', 'M=5', f'load_dataset_split={tmp_path / "split.pt"}', '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'load_dataset_split:' in err and 'is not a split file saved by torch.save' in err, err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err and not out.exists()
