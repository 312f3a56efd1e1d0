"""Build the documentation site from nbs/ without Quarto (`nbdev_docs` needs Quarto, which is not installable here).

    python tools/build_docs.py [--out _site] [--only 08_viz index] [--jobs 2] [--timeout 600] [--no-search]

The build is also the notebook test: it executes every cell of every notebook once (as `nbdev_test` does: `IN_TEST=1`,
cells flagged with settings.ini's `tst_flags` or `#| eval: false` and `nbdev_export()` cells skipped, each notebook in
its own folder) and exits 1, naming the notebook and the cell, if any cell raises. `make test` runs it instead of
`nbdev_test`, so no notebook is executed twice, and then checks the site it built (test/test_docs.py and, in headless
Chromium, test/test_site_browser.py).

One HTML page per notebook (`nbs/00_groups.ipynb` -> `groups.html`, the page name nbdev and `_modidx.py` use;
`nbs/index.ipynb` -> `index.html`, `nbs/tutorials/x.ipynb` -> `tutorial_x.html`). For every notebook:

1. nbdev's own processors add the API documentation: `add_show_docs` inserts a `show_doc(...)` cell after each
   exported definition, exactly as `nbdev_proc_nbs` / `nbdev_docs` do.
2. The notebook executes in a fresh Jupyter kernel (nbclient); `--jobs` notebooks at a time (2 by default, one per
   core of the CI machine; the kernels are separate processes). Open matplotlib figures are captured as PNGs after
   every cell, so figures appear even in notebooks that switch to the Agg backend.
3. nbconvert's HTMLExporter renders the executed notebook; nbdev/Quarto cell options are honoured: `#| hide`,
   `#| include: false`, `#| export`, `#| exporti` and `#| default_exp` cells are dropped, `#| echo: false` hides
   the source (this is how the show_doc cells show only their signature and docstring), `#| output: false`
   drops outputs. `show_doc` produces Markdown, rendered like the Markdown cells.

Then the whole site gets what a reader needs:

- **Math** (`$...$`, `$$...$$`, `\\begin{align}...`) is converted to MathML at build time with `latex2mathml`, in Markdown
  cells, in `show_doc` docstrings and in any Markdown output. Why MathML and not KaTeX/MathJax: Chromium (since
  109), Firefox and Safari render MathML natively, so the pages need no JavaScript, no fonts and no CDN to show the
  math, they stay readable with scripts off, and the search index sees the formulas as text. nbconvert's own
  Markdown parser finds the math (it already knows code spans, fences and escaped dollars); only its renderer is
  replaced, and a formula latex2mathml cannot parse stops the build with the page and the formula named, rather
  than leaving raw `$...$` on a page. nbconvert's MathJax and require.js `<script>` tags (CDN URLs) are removed.
- **Linked API**: a backticked name of the package in Markdown (`irreps`, `FiniteGroup.compose`,
  `group_agf.sequential.train_sequence`, also `irreps()`), and a class of the package in a `show_doc` signature
  (`group:FiniteGroup`, `-> tuple[Irrep, ...]`), links to its documentation anchor, looked up in
  `group_agf/_modidx.py` as nbdev's doclinks (`NbdevLookup.linkify`) do, but with links relative to the site so
  they work offline; fenced and indented code is left alone. A link whose anchor is not on the built page (a method
  without its own `show_doc`) falls back to its class's anchor, then to the page.
- **Navigation**: a sidebar of all pages (tutorials in their own section) that marks the current page
  (`aria-current="page"`), and previous/next links at the foot of every page.
- **Widgets**: a page that displays ipywidgets (the explorers page) embeds their saved state (nbclient saves it while
  executing; only the models the displayed widgets need are kept) and loads the widget manager from the site:
  `@jupyter-widgets/html-manager`'s standalone bundle, fetched once with `npm pack` (cached in the environment's
  `share/group_agf/`) and copied into `<out>/widgets/`, so the controls show offline, without a CDN. A static page
  has no kernel: the controls move, but nothing recomputes (the figures stay as saved).
- **Search** on every page: `pagefind` (PyPI `pagefind[bin]`, a static index and a small UI, no server) indexes the
  built pages into `<out>/pagefind/`. It loads its index with `fetch`, so serve the folder over HTTP
  (`python -m http.server -d _site`) rather than opening files directly.
"""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import argparse
import asyncio
import configparser
import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from urllib.parse import quote

import jinja2
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
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
    "nbdev's page name for a notebook: the file stem without its ordering prefix (`NN_`, `NNb_`, `NNc0_`) (`tutorial_` + stem for tutorials)."
    prefix = 'tutorial_' if Path(nb_path).parent.name == 'tutorials' else ''
    return prefix + re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(nb_path).stem.lower()) + '.html'   # nbdev's own rule (doclinks)


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


# A whole notebook's limit. nbclient's per-cell `timeout` does not cover every wait: now and then a notebook's client
# waits on an idle kernel for good (seen on 08b under load, in about one full build in three on 2026-12-02, while the
# Voila test's first kernel hung the same way; not reproduced alone). Past this limit the notebook runs once more in a
# fresh kernel. The slowest notebook takes about 60 s beside the tests, so 200 s leaves three times that and costs
# 200 s, not 420, when it happens.
NOTEBOOK_DEADLINE = 200


def _execute_within(nb, timeout, cwd, env, deadline):
    "nbclient's execution of `nb`, cancelled (its kernel shut down) after `deadline` seconds: asyncio.TimeoutError."
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3', allow_errors=False,
                            resources={'metadata': {'path': str(cwd)}})
    async def run():
        task = asyncio.ensure_future(client.async_execute(env=env))
        done, _ = await asyncio.wait({task}, timeout=deadline)
        if not done:                      # cancelled, nbclient shuts the kernel down (and reports it dead: not an error here)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise asyncio.TimeoutError
        task.result()
    asyncio.run(run())


def execute(nb, timeout=600, skip_flags=None, cwd=NBS, label='notebook'):
    "Execute `nb` in place in one fresh kernel started in `cwd`, skipping cells flagged with `skip_flags` (settings.ini tst_flags)."
    skip_flags = set(_cfg().get('tst_flags', '').split()) if skip_flags is None else set(skip_flags)
    hold = [(c, c.cell_type) for c in nb.cells if c.cell_type == 'code' and not _runs(c, skip_flags)]
    for c, _ in hold:
        c.cell_type = 'raw'  # nbclient only runs code cells
    setup = nbformat.v4.new_code_cell(SETUP)
    nb.cells.insert(0, setup)
    pypath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))  # import group_agf from ROOT
    env = {**os.environ, 'IN_TEST': '1', 'MPLBACKEND': 'Agg', 'PYTHONPATH': pypath}
    try:  # the kernel gets its own environment (os.environ is not touched: notebooks run in threads)
        for attempt in (1, 2):
            try:
                _execute_within(nb, timeout, cwd, env, NOTEBOOK_DEADLINE)
                break
            except asyncio.TimeoutError:
                if attempt == 2:
                    raise RuntimeError(f'no answer from its kernel after {NOTEBOOK_DEADLINE} s, twice') from None
                print(f'{label}: no answer from the kernel after {NOTEBOOK_DEADLINE} s; once more in a fresh kernel', flush=True)
    finally:
        nb.cells.remove(setup)
        for c, t in hold:
            c.cell_type = t
            c.outputs, c.execution_count = [], None
    return nb


@functools.lru_cache(None)
def _def_lines(py):
    "Line of each top-level def/class (`name`) and method (`Class.name`) of a file of the package."
    import ast
    tree, d = ast.parse((ROOT / py).read_text(encoding='utf-8')), {}
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            d[n.name] = n.lineno
            if isinstance(n, ast.ClassDef):
                d.update({f'{n.name}.{m.name}': m.lineno for m in n.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))})
    return d


def _show_doc_md(md):
    """Two repairs to show_doc's Markdown: the source link's line number (show_doc looks the file up relative to the
    kernel's folder, nbs/, and writes `#LNone`), and `*` inside the docstring, which show_doc wraps in `*...*`
    (`(..., *S, n)` would end the emphasis early and leave a stray `*`): escaped outside code spans."""
    if (src := re.search(r'/blob/[^/]+/(\S+?\.py)#LNone', md)) and (name := re.search(r'^#+\s+(\S+)', md, re.M)):
        line = _def_lines(src.group(1)).get(name.group(1).replace('\\', ''))
        md = md.replace('#LNone', f'#L{line}' if line else '', 1)

    def esc(m):
        parts = re.split(r'(`[^`]*`)', m.group(1))
        return '*' + ''.join(p if p.startswith('`') else re.sub(r'(?<!\\)\*', r'\\*', p) for p in parts) + '*'
    return re.sub(r'^\*(.+)\*$', esc, md, flags=re.M)


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
                    o['data'] = {'text/markdown': _show_doc_md(md)}
        cells.append(c)
    nb.cells = cells
    _displayed_widget_state(nb)
    return nb


WIDGET_VIEW, WIDGET_STATE = 'application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json'


def _displayed_widget_state(nb):
    """Keep in `nb.metadata.widgets` only the models the displayed widgets need (each view's model and the models it
    refers to, `IPY_MODEL_<id>`): nbclient saves every widget the kernel made, displayed or not. None displayed: no
    widget state and so no widget manager on the page."""
    state = nb.metadata.get('widgets', {}).get(WIDGET_STATE, {}).get('state', {})
    todo = [o['data'][WIDGET_VIEW]['model_id'] for c in nb.cells for o in c.get('outputs', []) if WIDGET_VIEW in o.get('data', {})]
    keep = set()
    while todo:
        m = todo.pop()
        if m in state and m not in keep:
            keep.add(m)
            todo += re.findall(r'IPY_MODEL_([0-9a-f]+)', json.dumps(state[m]['state']))
    if keep:
        nb.metadata.widgets[WIDGET_STATE]['state'] = {m: v for m, v in state.items() if m in keep}
    else:
        nb.metadata.pop('widgets', None)


# ---- math -------------------------------------------------------------------------------------------------------
# Constructs latex2mathml 3.x passes through as raw text (a visible backslash): rewritten to ones it knows.
TEX_FIXES = [
    (re.compile(r'\\text(tt|rm|bf|it|sf)?\{([^{}]*)\}'), lambda m: m.group(0).replace('\\_', '_')),  # \text{test\_size}
    (re.compile(r'\\arg(?![A-Za-z])'), lambda m: r'\operatorname{arg}'),                            # \arg\max
    (re.compile(r'\\operatorname\*'), lambda m: r'\operatorname'),
    (re.compile(r'\\[Bb]ig{1,2}[lrm]?\s*\\\|'), lambda m: r'\Vert '),                               # \big\| ... \big\|
]


def mathml(tex, display='inline'):
    "LaTeX to MathML (latex2mathml); a formula it cannot convert, or would show with a raw `\\command`, raises ValueError."
    src = tex.strip()
    for pat, repl in TEX_FIXES:
        src = pat.sub(repl, src)
    try:
        m = latex_to_mathml(src, display=display)
    except Exception as e:
        raise ValueError(f'latex2mathml cannot convert {tex!r}: {e!r}') from e
    if bad := re.findall(r'\\[A-Za-z_|]+', html.unescape(re.sub(r'<[^>]+>', '', m))):
        raise ValueError(f'latex2mathml leaves {bad} unrendered in {tex!r}: add a rewrite to TEX_FIXES')
    return m.replace('<math ', '<math class="docs-math" ', 1)


def _table_math(md):
    "In Markdown table rows, write `|` and `\\|` inside `$...$` as `\\vert`/`\\Vert` (a bare `|` would split the cell)."
    def row(line):
        if not line.lstrip().startswith('|'):
            return line
        return re.sub(r'\$[^$`]+\$', lambda m: m.group(0).replace('\\|', '\\Vert{}').replace('|', '\\vert{}'), line)
    return '\n'.join(row(l) for l in md.split('\n'))


class MathMLRenderer(IPythonRenderer):
    "nbconvert's Markdown renderer with math written as MathML instead of left as `$...$` for MathJax."
    def block_math(self, body):
        return mathml(body, 'block')

    def inline_math(self, body):
        return mathml(body, 'inline')

    def latex_environment(self, name, body):
        return mathml(f'\\begin{{{name}}}{body}\\end{{{name}}}', 'block')

    def heading(self, text, level, **attrs):
        "nbconvert re-serializes headings through ElementTree (MathML would come out as `ns0:math`): keep the math aside."
        maths = re.findall(r'<math\b.*?</math>', text, flags=re.S)
        for i, m in enumerate(maths):
            text = text.replace(m, f'docsmath{i}x', 1)
        h = super().heading(text, level, **attrs)
        for i, m in enumerate(maths):
            plain = re.sub(r'<[^>]+>', '', m)  # the formula's characters, for the heading's id
            h = re.sub(rf'(="[^"]*?)docsmath{i}x', lambda a: a.group(1) + quote(html.unescape(plain)), h)
            h = h.replace(f'docsmath{i}x', m)
        return h


# ---- links to the API (nbdev's doclinks, relative to the site) ----------------------------------------------------
_BACKTICKS = re.compile(r'`([^`\s]+?)(\(\))?`')  # nbdev's doclinks._re_backticks


def api_index():
    "Backticked name -> relative URL, from `_modidx.py`: full names, names without `group_agf.`, bare names (first wins, as nbdev)."
    import importlib
    import group_agf._modidx as modidx
    d = importlib.reload(modidx).d
    full, short = {}, {}
    for mod, syms in d['syms'].items():
        if any(p.startswith('_') for p in mod.split('.')):
            continue
        for sym, (url, _) in syms.items():
            rel = sym[len(mod) + 1:]
            if any(p.startswith('_') for p in rel.split('.')):
                continue
            full.setdefault(sym, url)
            full.setdefault(sym[len('group_agf.'):], url)
            short.setdefault(rel, url)
            if mod.count('.') == 2:   # group_agf.sequential.run.f is also group_agf.sequential.f (the package re-exports it)
                package = mod.rsplit('.', 1)[0]
                full.setdefault(f'{package}.{rel}', url)
                full.setdefault(f'{package}.{rel}'[len('group_agf.'):], url)
        if syms:
            full.setdefault(mod, next(iter(syms.values()))[0].split('#')[0])
    return {**short, **full}


def linkify(md, index):
    "Backticked names of the package in Markdown -> links to their docs (skips fenced and 4-space-indented code)."
    def link(m):
        url = index.get(m.group(1))
        if url is None:
            return m.group(0)
        name = html.escape(m.group(1) + (m.group(2) or ''))
        return f'<a class="doclink" href="{url}"><code>{name}</code></a>'
    lines, fence = md.splitlines(), False
    for i, l in enumerate(lines):
        if l.lstrip().startswith(('```', '~~~')):
            fence = not fence
        elif not fence and not l.startswith('    '):
            lines[i] = _BACKTICKS.sub(link, l)
    return '\n'.join(lines)


# ---- HTML ---------------------------------------------------------------------------------------------------------
# nbconvert's lab template without its CDN scripts (MathJax, require.js, mermaid, the widget manager): math is MathML,
# a page that shows widgets loads the widget manager shipped in the site (`ship_widget_manager`), the rest is unused.
TEMPLATE = '''{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- if "widgets" in nb.metadata %}<script src="WIDGETS_JS"></script>{% endif -%}{%- endblock jupyter_widgets -%}
'''


class DocsExporter(HTMLExporter):
    "HTMLExporter with MathML math and linked API names in every Markdown cell and Markdown output."
    api = None

    @jinja2.pass_context
    def markdown2html(self, context, source):
        cell = context.get('cell', {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get('attachments', {}), embed_images=self.embed_images,
                                  path=context.get('resources', {}).get('metadata', {}).get('path', ''),
                                  anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links,
                                  **self.lexer_options)
        out = MarkdownWithMath(renderer=renderer).render(linkify(_table_math(source), self.api or {}))
        if cell.get('cell_type') == 'code':  # show_doc output: link the package's classes in the signature too
            out = re.sub(r'<div class="highlight"><pre>.*?</pre></div>', lambda b: _link_signature(b.group(0), self.api or {}),
                         out, flags=re.S)
        return out


def _link_signature(block, api):
    "Class names of the package (CamelCase, in `api`) in a highlighted signature -> links to their docs."
    return re.sub(r'<span class="n">([A-Z]\w*)</span>', lambda m: (f'<a class="doclink" href="{api[m.group(1)]}">{m.group(0)}</a>'
                                                                  if m.group(1) in api else m.group(0)), block)


STYLE = '''<link rel="icon" href="data:,">
<link href="pagefind/pagefind-ui.css" rel="stylesheet">
<script src="pagefind/pagefind-ui.js"></script>
<style>
body { margin: 0; }
#docs-nav { position: fixed; top: 0; left: 0; bottom: 0; width: 14rem; overflow-y: auto; padding: 1rem;
  background: #f7f7f7; border-right: 1px solid #ddd; font-family: sans-serif; font-size: 0.9rem; box-sizing: border-box; }
#docs-nav ul { list-style: none; padding-left: 0; margin: 0.3rem 0 1rem; } #docs-nav li { margin: 0.15rem 0; }
#docs-nav li a { display: block; padding: 0.15rem 0.4rem; border-radius: 4px; text-decoration: none; color: #1a4f8b; }
#docs-nav li a:hover { background: #e8eef6; }
#docs-nav a[aria-current="page"] { font-weight: bold; background: #1a4f8b; color: white; }
#docs-nav .docs-section { margin-top: 0.8rem; font-weight: bold; color: #555; text-transform: uppercase; font-size: 0.75rem; }
main { margin-left: 15rem !important; max-width: 62rem; }
#docs-search { margin: 0.5rem 0 1rem; --pagefind-ui-scale: 0.8; }
.docs-pager { display: flex; justify-content: space-between; gap: 1rem; margin: 2rem 0 1rem; padding-top: 1rem;
  border-top: 1px solid #ddd; font-family: sans-serif; }
.docs-pager a { text-decoration: none; } .docs-pager .next { margin-left: auto; text-align: right; }
a.doclink code { color: #1a4f8b; }
math.docs-math { font-size: 1.1em; }
math.docs-math[display=block] { margin: 0.6em 0; }
.jp-RenderedMarkdown h3, .jp-RenderedMarkdown h4 { margin-top: 1rem; }
</style>'''

SEARCH = '''<div id="docs-search" data-pagefind-ignore="all"></div>
<script>window.addEventListener('DOMContentLoaded', () => {
  if (window.PagefindUI) new PagefindUI({element: '#docs-search', showSubResults: true, showImages: false});
});</script>'''


def _nav(pages, current, title):
    items, section = [], None
    for p, t in pages:
        s = 'Tutorials' if p.startswith('tutorial_') else None
        if s != section:
            items.append(f'</ul><div class="docs-section">{s}</div><ul>')
            section = s
        cur = ' aria-current="page" class="current"' if p == current else ''
        items.append(f'<li><a href="{p}"{cur}>{html.escape(t)}</a></li>')
    return (f'<nav id="docs-nav" data-pagefind-ignore="all"><a href="index.html"><b>{html.escape(title)}</b></a>'
            f'<ul>\n' + '\n'.join(items) + '\n</ul></nav>')


def _pager(pages, current):
    names = [p for p, _ in pages]
    i, titles = names.index(current), dict(pages)
    prev = f'<a class="prev" rel="prev" href="{names[i - 1]}">← {html.escape(titles[names[i - 1]])}</a>' if i > 0 else ''
    nxt = (f'<a class="next" rel="next" href="{names[i + 1]}">{html.escape(titles[names[i + 1]])} →</a>'
           if i + 1 < len(names) else '')
    return f'<nav class="docs-pager" data-pagefind-ignore="all">{prev}{nxt}</nav>'


def _plain(title):
    "A Markdown title as text for <title> and the sidebar (backticks and `$` dropped, math kept as its source)."
    return re.sub(r'[`$*]', '', title)


def render(nb, pages, current, site_title, api=None):
    c = Config()
    c.TemplateExporter.exclude_input_prompt = c.TemplateExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    ex = DocsExporter(config=c, template_name='lab', template_file='docs.html.j2',
                      extra_loaders=[jinja2.DictLoader({'docs.html.j2': TEMPLATE.replace('WIDGETS_JS', WIDGETS_JS)})])
    ex.api = api_index() if api is None else api
    body, _ = ex.from_notebook_node(_for_render(nb))
    # Quarto's (and _modidx.py's) anchors are lower case: `groups.html#finitegroup.compose`
    body = re.sub(r'(<h[1-4] id=")([^"]+)(")', lambda m: m.group(0) if m.group(2) == m.group(2).lower() else
                  f'<a id="{m.group(2).lower()}"></a>{m.group(0)}', body)
    body = body.replace('</head>', STYLE + '\n</head>', 1)
    body = re.sub(r'<title>.*?</title>', f'<title>{html.escape(pages_title(pages, current))} – {site_title}</title>',
                  body, count=1, flags=re.S)
    body = re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + '\n' + _nav(pages, current, site_title), body, count=1)
    body = body.replace('class="anchor-link"', 'class="anchor-link" data-pagefind-ignore')  # no "¶" in search results
    body = re.sub(r'<main([^>]*)>', lambda m: f'<main{m.group(1)} data-pagefind-body>\n{SEARCH}', body, count=1)
    body = body.replace('</main>', _pager(pages, current) + '\n</main>', 1)
    return body


def pages_title(pages, current):
    return dict(pages).get(current, current)


_HREF = re.compile(r'<a class="doclink" href="([^"#]+)#([^"]+)"')
_ID = re.compile(r'\bid="([^"]+)"')


def fix_doclinks(out, names):
    "Point API links whose anchor is not on the built page to the enclosing class's anchor, else to the page."
    ids = {n: set(_ID.findall((out / n).read_text(encoding='utf-8'))) for n in names}

    def fix(m):
        page, anchor = m.groups()
        if page not in ids:
            return m.group(0)  # a page not built in this (partial) build
        while anchor and anchor not in ids[page]:
            anchor = anchor.rpartition('.')[0]
        return f'<a class="doclink" href="{page}#{anchor}"' if anchor else f'<a class="doclink" href="{page}"'
    for n in names:
        p = out / n
        s = p.read_text(encoding='utf-8')
        t = _HREF.sub(fix, s)
        if t != s:
            p.write_text(t, encoding='utf-8')


def search_index(out):
    "Build the pagefind index of the site into `out/pagefind/`."
    r = subprocess.run([sys.executable, '-m', 'pagefind', '--site', str(out)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f'pagefind failed:\n{r.stdout}\n{r.stderr}')
    return r.stdout


# ---- widgets -------------------------------------------------------------------------------------------------------
# Static pages render saved widget state with @jupyter-widgets/html-manager's standalone bundle (1.0.x renders the
# state ipywidgets 8 saves, version 2), fetched once from the npm registry and shipped in the site: no CDN.
HTML_MANAGER = '1.0.15'
WIDGETS_JS = 'widgets/embed.js'


def html_manager():
    "The `dist/` folder of @jupyter-widgets/html-manager (`npm pack`, once; kept under the environment's share/group_agf/)."
    cache = Path(sys.prefix) / 'share' / 'group_agf' / f'html-manager-{HTML_MANAGER}'
    if (cache / 'dist' / 'embed.js').exists():
        return cache / 'dist'
    npm = shutil.which('npm')
    if npm is None:
        raise RuntimeError('a page shows widgets: npm (node) is needed once to fetch @jupyter-widgets/html-manager')
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:   # on the cache's file system: moved in at once
        r = subprocess.run([npm, 'pack', '--silent', f'@jupyter-widgets/html-manager@{HTML_MANAGER}', '--pack-destination', tmp],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f'npm pack @jupyter-widgets/html-manager@{HTML_MANAGER} failed:\n{r.stdout}\n{r.stderr}')
        with tarfile.open(next(Path(tmp).glob('*.tgz'))) as t:
            t.extractall(tmp, members=[m for m in t.getmembers() if m.name.startswith('package/dist/')], filter='data')
        if not cache.exists():   # another build may have fetched it meanwhile
            os.replace(Path(tmp) / 'package', cache)
    return cache / 'dist'


def ship_widget_manager(out):
    "Copy the widget manager into `out/widgets/`: the bundle, its licence notice and its fonts (woff2: every current browser)."
    dist = html_manager()
    dest = Path(out) / Path(WIDGETS_JS).parent
    dest.mkdir(exist_ok=True)
    for f in [dist / 'embed.js', dist / 'embed.js.LICENSE.txt', *dist.glob('*.woff2')]:
        shutil.copy2(f, dest / f.name)


class NotebookFailed(Exception):
    pass


def build(out='_site', only=None, timeout=600, verbose=True, jobs=2, search=True):
    """Execute and render the notebooks into `out`; returns the page names written (relative to `out`).

    Raises NotebookFailed naming every notebook in which a cell raised (the other pages are still written)."""
    out = Path(out)
    if not out.is_absolute():
        out = Path.cwd() / out
    out.mkdir(parents=True, exist_ok=True)
    paths = notebooks(only)
    if not paths:
        raise SystemExit(f'no notebooks match {only}')
    nbs = {p: _add_show_docs(p) for p in paths}
    pages = [(page_name(p), _plain(_title(nb)) or p.stem) for p, nb in nbs.items()]
    site_title = _cfg().get('title', 'docs')
    api = api_index()
    with_widgets = []   # pages that show widgets

    def one(p):
        t0 = time.time()
        name = page_name(p)
        try:
            execute(nbs[p], timeout=timeout, cwd=p.parent, label=str(p.relative_to(ROOT)))
            page = render(nbs[p], pages, name, site_title, api)
            if 'widgets' in nbs[p].metadata:
                with_widgets.append(name)
        except Exception as e:
            if verbose:
                print(f'FAILED {p.relative_to(ROOT)}: {e}', flush=True)
            return p, e
        (out / name).write_text(page, encoding='utf-8')
        if verbose:
            print(f'{str(p.relative_to(NBS)):36s} -> {out / name}  ({time.time() - t0:.1f}s)', flush=True)
        return p, None

    # The slowest notebooks first (tutorials, then by length), so the workers finish together; results in notebook order.
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = dict(pool.map(one, sorted(paths, key=lambda p: (p.parent.name != "tutorials", -len(nbs[p].cells)))))
    written = [page_name(p) for p in paths if results[p] is None]
    fix_doclinks(out, written)
    if with_widgets:
        ship_widget_manager(out)
    if search and written:
        search_index(out)
    failed = {p: e for p, e in results.items() if e is not None}
    if failed:
        raise NotebookFailed('\n\n'.join(f'{p.relative_to(ROOT)}:\n{e}' for p, e in failed.items()))
    return written


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='_site', help='output folder (default: _site)')
    ap.add_argument('--only', nargs='*', help='notebook stems or page names to build (default: all)')
    ap.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell')
    ap.add_argument('--jobs', type=int, default=int(os.environ.get('DOCS_JOBS', 2)), help='notebooks executed at once')
    ap.add_argument('--no-search', action='store_true', help='skip the pagefind index')
    a = ap.parse_args()
    t0 = time.time()
    try:
        pages = build(a.out, only=a.only, timeout=a.timeout, jobs=a.jobs, search=not a.no_search)
    except NotebookFailed as e:
        print(f'\nnotebook cells failed ({time.time() - t0:.0f}s):\n{e}', file=sys.stderr)
        sys.exit(1)
    print(f'built {len(pages)} pages in {time.time() - t0:.0f}s: {" ".join(pages)}')
