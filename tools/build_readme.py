"""Build README.md from nbs/index.ipynb without Quarto (nbdev_readme needs Quarto).

Cells flagged `#| hide` are dropped, other `#|` directive lines are stripped, and the notebook is
rendered with nbconvert's Markdown exporter; figures are written next to README.md under
`README_files/`. The output is deterministic, so `tools/check_sync.sh` can assert it is current.
"""
from pathlib import Path
import re

import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')


def _directives(cell):
    return [m.group(1).strip() for line in cell.source.splitlines() if (m := DIRECTIVE.match(line))]


def _keep(cell):
    flags = _directives(cell)
    return not any(f.startswith(('hide', 'export', 'default_exp', 'exporti')) for f in flags)


def _strip(cell):
    if cell.cell_type == 'code':
        cell.source = '\n'.join(l for l in cell.source.splitlines() if not DIRECTIVE.match(l)).strip()
        if any(f.replace(' ', '') == 'echo:false' for f in _directives(cell)):
            cell.source = ''
    return cell


def build(nb_path=ROOT / 'nbs' / 'index.ipynb', out=ROOT / 'README.md'):
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells = [_strip(c) for c in nb.cells if _keep(c)]
    nb.metadata['language_info'] = {'name': 'python'}
    body, res = MarkdownExporter().from_notebook_node(nb, resources={'output_files_dir': 'README_files'})
    body = re.sub(r'\n```python\n\n```\n', '\n', body)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    header = '<!-- Generated from nbs/index.ipynb by tools/build_readme.py: edit the notebook, not this file. -->\n\n'
    out.write_text(header + body, encoding='utf-8')
    files_dir = out.parent / 'README_files'
    for old in files_dir.glob('*') if files_dir.exists() else []:
        old.unlink()
    for name, data in res.get('outputs', {}).items():
        path = out.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


if __name__ == '__main__':
    build()
