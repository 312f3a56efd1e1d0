"""Project-level checks that cross notebooks: README commands, packaging, notebook conventions."""
import configparser
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_first_two_commands_are_make_targets():
    readme = (ROOT / 'README.md').read_text()
    block = re.search(r'```sh\n(.*?)```', readme, re.S).group(1)
    commands = [l.split('#')[0].strip() for l in block.splitlines() if l.strip()]
    assert commands[:2] == ['make run', 'make test']
    makefile = (ROOT / 'Makefile').read_text()
    assert re.search(r'^run: setup$', makefile, re.M) and re.search(r'^test: setup', makefile, re.M)
    assert 'make test' in (ROOT / '.ci' / 'run').read_text()


def test_settings_keep_papermill_tags_and_skip_slow_gpu():
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    assert cfg['DEFAULT']['allowed_cell_metadata_keys'] == 'tags'
    assert set(cfg['DEFAULT']['tst_flags'].split()) == {'slow', 'gpu'}


def test_every_notebook_exports_and_ends_with_export_cell():
    for nb_path in sorted((ROOT / 'nbs').glob('[0-9][0-9]*.ipynb')):
        cells = json.loads(nb_path.read_text())['cells']
        first = ''.join(cells[0]['source']) + ''.join(cells[1]['source'])
        module = re.search(r'#\|\s*default_exp\s+(\S+)', first).group(1)
        assert (ROOT / 'group_agf' / (module.replace('.', '/') + '.py')).exists(), nb_path.name
        assert 'nbdev_export()' in ''.join(cells[-1]['source']), nb_path.name


def test_no_hard_coded_devices_or_absolute_paths():
    for py in (ROOT / 'group_agf').glob('*.py'):
        text = py.read_text()
        assert not re.search(r"['\"]cuda:\d['\"]", text), py.name
        assert not re.search(r"['\"]/(home|Users|private|checkpoint)/", text), py.name
