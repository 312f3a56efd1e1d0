"""Build the documentation site from nbs/ without Quarto (`nbdev_docs` needs Quarto).

    python tools/build_docs.py [--out _site] [--only 08_viz index] [--timeout 600]

One HTML page per notebook (`nbs/00_groups.ipynb` -> `groups.html`, the page name nbdev and `_modidx.py` use;
`nbs/index.ipynb` -> `index.html`), each with a navigation list of all pages. For every notebook:

1. nbdev's own processors add the API documentation: `add_show_docs` inserts a `show_doc(...)` cell after each
   exported definition, exactly as `nbdev_proc_nbs` / `nbdev_docs` do.
2. The notebook executes in a fresh Jupyter kernel (nbclient), with `IN_TEST=1` as under `nbdev_test`. Cells
   flagged with settings.ini's `tst_flags` (`#| slow`, `#| gpu`) or `#| eval: false`, and the `nbdev_export()`
   cells, are not run. Open matplotlib figures are captured as PNGs after every cell, so figures appear even in
   notebooks that switch to the Agg backend.
3. nbconvert's HTMLExporter renders the executed notebook; nbdev/Quarto cell options are honoured: `#| hide`,
   `#| include: false`, `#| export`, `#| exporti` and `#| default_exp` cells are dropped, `#| echo: false` hides
   the source (this is how the show_doc cells show only their signature and docstring), `#| output: false`
   drops outputs. `show_doc` produces Markdown, which nbconvert renders to HTML (mistune).

Why not `nbdev_proc_nbs` + nbconvert: nbdev's `exec_show_docs` processor executes only the export/import/show_doc
cells of a notebook, and any cell that mixes imports with code that needs an unexported helper defined in an
earlier test cell fails (e.g. `03_tasks` cell 17 uses `raises`): `nbdev_proc_nbs` then exits 1 with a
`_RemoteTraceback`. Executing the whole notebook avoids that and also yields the figures (the notebooks are
committed without outputs).
"""
from pathlib import Path
import argparse
import configparser
import html
import os
import re
import time

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')
DROP = {'hide', 'export', 'exporti', 'default_exp'}

# Run in each kernel before the notebook (and not rendered): show_doc, and figures captured after every cell.
SETUP = '''
from nbdev.showdoc import show_doc
def _docs_show_figures():
    import io, sys
    if 'matplotlib.pyplot' not in sys.modules: return
    import matplotlib.pyplot as plt
    from IPython.display import Image, display
    for n in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(n).savefig(buf, format='png', dpi=80, bbox_inches='tight')
        display(Image(data=buf.getvalue(), format='png'))
    plt.close('all')
get_ipython().events.register('post_execute', _docs_show_figures)
'''


def _cfg():
    c = configparser.ConfigParser()
    c.read(ROOT / 'settings.ini')
    return c['DEFAULT']


def page_name(nb_path):
    "nbdev's page name for a notebook: the file stem without its `NN_` / `NNb_` ordering prefix (`tutorial_` + stem for tutorials)."
    prefix = 'tutorial_' if Path(nb_path).parent.name == 'tutorials' else ''
    return prefix + re.sub(r'^\d+[a-z]?_', '', Path(nb_path).stem) + '.html'


def notebooks(only=None):
    "Notebooks in nbs/ (index first) and then nbs/tutorials/, optionally only those whose stem or page name is in `only`."
    visible = lambda ps: sorted(p for p in ps if not p.name.startswith(('_', '.')))
    nbs = visible(NBS.glob('*.ipynb'))
    nbs.sort(key=lambda p: p.stem != 'index')
    nbs += visible((NBS / 'tutorials').glob('*.ipynb'))
    if only:
        nbs = [p for p in nbs if p.stem in only or page_name(p)[:-5] in only]
    return nbs


def _title(nb):
    for c in nb.cells:
        if c.cell_type == 'markdown' and (m := re.search(r'^#\s+(.+)$', c.source, re.M)):
            return m.group(1).strip()
    return ''


def _add_show_docs(path):
    "The notebook with nbdev's show_doc cells added and each cell's directives recorded in its metadata."
    from execnb.nbio import read_nb
    from nbdev.process import NBProcessor, extract_directives
    from nbdev.processors import add_show_docs, clean_show_doc
    proc = NBProcessor(path, procs=[add_show_docs, clean_show_doc], rm_directives=False)
    proc.process()
    cells = []
    for c in proc.nb.cells:
        d = {k: list(v) for k, v in extract_directives(c, remove=False).items()} if c.cell_type == 'code' else {}
        cell = (nbformat.v4.new_code_cell(c.source) if c.cell_type == 'code' else
                nbformat.v4.new_markdown_cell(c.source) if c.cell_type == 'markdown' else nbformat.v4.new_raw_cell(c.source))
        cell.metadata['docs_directives'] = d
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nb.metadata['language_info'] = {'name': 'python'}
    return nb


def _flag(d, key):
    return [a.lower() for a in d.get(key, [])][:1] == ['false']


def _runs(cell, skip_flags):
    d = cell.metadata['docs_directives']
    return (cell.cell_type == 'code' and not (d.keys() & skip_flags) and not _flag(d, 'eval:')
            and 'nbdev_export()' not in cell.source)


def execute(nb, timeout=600, skip_flags=None):
    "Execute `nb` in place in one fresh kernel, skipping cells flagged with `skip_flags` (settings.ini tst_flags)."
    skip_flags = set(_cfg().get('tst_flags', '').split()) if skip_flags is None else set(skip_flags)
    hold = [(c, c.cell_type) for c in nb.cells if c.cell_type == 'code' and not _runs(c, skip_flags)]
    for c, _ in hold:
        c.cell_type = 'raw'  # nbclient only runs code cells
    setup = nbformat.v4.new_code_cell(SETUP)
    nb.cells.insert(0, setup)
    pypath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))  # import group_agf from ROOT
    env = {**os.environ, 'IN_TEST': '1', 'MPLBACKEND': 'Agg', 'PYTHONPATH': pypath}
    old = os.environ.copy()
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name='python3', allow_errors=False,
                       resources={'metadata': {'path': str(NBS)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
        nb.cells.remove(setup)
        for c, t in hold:
            c.cell_type = t
            c.outputs, c.execution_count = [], None
    return nb


def _for_render(nb):
    "Apply the cell options: drop hidden/exported cells, hide inputs/outputs, strip `#|` lines."
    cells = []
    for c in nb.cells:
        d = c.metadata.pop('docs_directives', {})
        if d.keys() & DROP or _flag(d, 'include:') or (c.cell_type == 'code' and 'nbdev_export()' in c.source):
            continue
        if c.cell_type == 'code':
            c.source = '\n'.join(l for l in c.source.splitlines() if not DIRECTIVE.match(l)).strip()
            if _flag(d, 'echo:'):
                c.metadata.setdefault('tags', []).append('remove_input')
            if _flag(d, 'output:'):
                c.outputs = []
            if not c.source and not c.outputs:
                continue
            for o in c.get('outputs', []):  # show_doc gives Markdown and a text repr: keep only the Markdown
                if o.get('output_type') in ('execute_result', 'display_data') and 'text/markdown' in o.get('data', {}):
                    md = re.sub(r'\]\(([^)\s]+)\)\{[^}]*\}', r'](\1)', o['data']['text/markdown'])  # Quarto link attributes
                    o['data'] = {'text/markdown': md}
        cells.append(c)
    nb.cells = cells
    return nb


STYLE = '''<style>
body { margin: 0; }
#docs-nav { position: fixed; top: 0; left: 0; bottom: 0; width: 13rem; overflow-y: auto; padding: 1rem;
  background: #f7f7f7; border-right: 1px solid #ddd; font-family: sans-serif; font-size: 0.9rem; }
#docs-nav ul { list-style: none; padding-left: 0; } #docs-nav li { margin: 0.3rem 0; }
#docs-nav a.current { font-weight: bold; }
main { margin-left: 15rem !important; max-width: 60rem; }
.jp-RenderedMarkdown h3, .jp-RenderedMarkdown h4 { margin-top: 1rem; }
</style>'''


def _nav(pages, current, title):
    cur = ' class="current"'
    items = '\n'.join(f'<li><a href="{p}"{cur if p == current else ""}>{html.escape(t)}</a></li>' for p, t in pages)
    return f'<nav id="docs-nav"><a href="index.html"><b>{html.escape(title)}</b></a><ul>\n{items}\n</ul></nav>'


def render(nb, pages, current, site_title):
    c = Config()
    c.TemplateExporter.exclude_input_prompt = c.TemplateExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    body, _ = HTMLExporter(config=c, template_name='lab').from_notebook_node(_for_render(nb))
    # Quarto's (and _modidx.py's) anchors are lower case: `groups.html#finitegroup.compose`
    body = re.sub(r'(<h[1-4] id=")([^"]+)(")', lambda m: m.group(0) if m.group(2) == m.group(2).lower() else
                  f'<a id="{m.group(2).lower()}"></a>{m.group(0)}', body)
    body = body.replace('</head>', STYLE + '\n</head>', 1)
    body = re.sub(r'<title>.*?</title>', f'<title>{html.escape(pages_title(pages, current))} – {site_title}</title>',
                  body, count=1, flags=re.S)
    body = re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + '\n' + _nav(pages, current, site_title), body, count=1)
    return body


def pages_title(pages, current):
    return dict(pages).get(current, current)


def build(out='_site', only=None, timeout=600, verbose=True):
    "Build the site into `out`; returns the list of pages written (file names relative to `out`)."
    out = Path(out)
    if not out.is_absolute():
        out = Path.cwd() / out
    out.mkdir(parents=True, exist_ok=True)
    paths = notebooks(only)
    if not paths:
        raise SystemExit(f'no notebooks match {only}')
    nbs = {p: _add_show_docs(p) for p in paths}
    pages = [(page_name(p), _title(nb) or p.stem) for p, nb in nbs.items()]
    site_title = _cfg().get('title', 'docs')
    written = []
    for p, nb in nbs.items():
        t0 = time.time()
        execute(nb, timeout=timeout)
        name = page_name(p)
        (out / name).write_text(render(nb, pages, name, site_title), encoding='utf-8')
        written.append(name)
        if verbose:
            print(f'{p.name:24s} -> {out / name}  ({time.time() - t0:.1f}s)', flush=True)
    return written


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='_site', help='output folder (default: _site)')
    ap.add_argument('--only', nargs='*', help='notebook stems or page names to build (default: all)')
    ap.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell')
    a = ap.parse_args()
    t0 = time.time()
    pages = build(a.out, only=a.only, timeout=a.timeout)
    print(f'built {len(pages)} pages in {time.time() - t0:.0f}s: {" ".join(pages)}')
