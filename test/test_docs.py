"""The documentation site builds without Quarto (tools/build_docs.py): one page per notebook, with the API
signatures of every exported function and class, the figures, math as MathML, linked API names, a navigation list
of all pages and a search index.

The whole-site checks read the site `make test` built once (GROUP_AGF_SITE, see test/docs_site.py): that build is
the notebook test, so no notebook runs twice. The unit tests below render small notebooks without executing them."""
import html
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from docs_site import build_docs, expected_pages, site_dir

ROOT = Path(__file__).resolve().parents[1]

FIGURE_PAGES = {'index.html', 'viz.html', 'analysis.html', 'tutorial_cogs_solutions.html', 'tutorial_li2_critical_ratio.html',
                'tutorial_staircase.html'}  # notebooks that show figures (06_train only saves PNGs)


def _text(page):
    "Visible text of an HTML page (tags stripped, entities decoded)."
    s = re.sub(r'<(style|script)\b.*?</\1>', '', page, flags=re.S)
    return html.unescape(re.sub(r'<[^>]+>', '', s))


def _documented(module):
    "Public functions and classes exported by `group_agf.<module>` (its `__all__`, as nbdev writes it)."
    mod = importlib.import_module(f'group_agf.{module}')
    return [n for n in mod.__all__ if callable(getattr(mod, n)) and getattr(getattr(mod, n), '__module__', '') == mod.__name__]


def _check(out, pages):
    modules = {p[:-5] for p in pages if not p.startswith('tutorial_')} - {'index'}
    for page in pages:
        assert (out / page).exists(), page
        body = (out / page).read_text(encoding='utf-8')
        text = _text(body)
        assert all(f'href="{p}"' in body for p in pages), f'{page}: navigation misses a page'
        assert not re.search(r'<script[^>]+src="https?:', body), f'{page}: loads a script from the network'
        assert 'pagefind/pagefind-ui.js' in body and 'docs-search' in body, f'{page}: no search box'
        if page[:-5] in modules:
            names = _documented(page[:-5])
            assert names, page
            missing = [n for n in names if not re.search(rf'\b(def|class)\s+{re.escape(n)}\b', text)]
            assert not missing, f'{page}: no API signature for {missing}'
        if page in FIGURE_PAGES:
            assert re.search(r'<img [^>]*src="data:image/png;base64,', body), f'{page}: no figure'


def _check_anchors(out, module):
    "Links in `_modidx.py` (`groups.html#finitegroup`, lower case as Quarto makes them) land on the page."
    from group_agf._modidx import d
    page = (out / f'{module}.html').read_text(encoding='utf-8')
    top = [v[0] for k, v in d['syms'][f'group_agf.{module}'].items() if k.count('.') == 2 and k.split('.')[-1][0] != '_']
    missing = [a for a in top if f'id="{a.split("#")[1]}"' not in page]
    assert top and not missing, missing


# ---- what the builder runs -----------------------------------------------------------------------------------------
def test_page_names_match_nbdev_and_modidx():
    from group_agf._modidx import d
    modidx_pages = {v[0].split('#')[0] for syms in d['syms'].values() for v in syms.values()}
    pages = {build_docs.page_name(p) for p in build_docs.notebooks()}
    tutorials = {build_docs.page_name(p) for p in (ROOT / 'nbs' / 'tutorials').glob('*.ipynb')}
    assert tutorials and pages == modidx_pages | {'index.html'} | tutorials


def test_docs_build_executes_every_notebook_nbdev_test_would(monkeypatch):
    "The docs build replaces `nbdev_test` in `make test`: it must execute the same notebooks (nbdev's own glob)."
    from nbdev.doclinks import nbglob
    monkeypatch.chdir(ROOT)
    assert {Path(p).resolve() for p in nbglob(ROOT / 'nbs')} == {p.resolve() for p in build_docs.notebooks()}
    assert [p.stem for p in build_docs.notebooks(['index', 'groups', 'cogs_solutions'])] == ['index', '00_groups', 'cogs_solutions']


def _nb(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    for c in nb.cells:  # the directives as build_docs._add_show_docs records them: {'slow': [], 'eval:': ['false']}
        d = [l.split(None, 1) + [''] for l in re.findall(r'^#\|\s*(.*)$', c.source, re.M)] if c.cell_type == 'code' else []
        c.metadata['docs_directives'] = {k: v.split() for k, v, *_ in d}
    return nb


def test_failing_cell_fails_the_build_and_flags_are_honoured(tmp_path):
    from nbclient.exceptions import CellExecutionError
    ok = _nb(nbformat.v4.new_code_cell('x = 1'), nbformat.v4.new_code_cell('#| slow\n1/0'),
             nbformat.v4.new_code_cell('#| eval: false\n1/0'), nbformat.v4.new_code_cell('nbdev_export()'),
             nbformat.v4.new_code_cell('import os; assert os.environ["IN_TEST"] == "1"; print(x + 1)'))
    build_docs.execute(ok, timeout=60, cwd=tmp_path)
    assert ok.cells[-1].outputs[0]['text'] == '2\n' and not ok.cells[1].outputs
    bad = _nb(nbformat.v4.new_code_cell('x = 1'), nbformat.v4.new_code_cell('raise ValueError("boom in a cell")'))
    with pytest.raises(CellExecutionError, match='boom in a cell'):
        build_docs.execute(bad, timeout=60, cwd=tmp_path)


MD = r'''# A page with $\mathbb{Z}_n$ math

Inline $\frac{1}{|G|}\sum_{i>j}P_{(i)}$, a code span `$not math$` and a price of 5 dollars.

$$\hat x(\rho) = \sum_g x(g)\,\rho(g)^H$$

| | formula |
|---|---|
| power | $P_\rho = \frac{d_\rho}{|G|}\operatorname{Tr}(\hat x^H \hat x)$, $\|x\|^2$ |

See `irreps`, `irreps()`, `FiniteGroup.compose`, `group_agf.sequential.train_sequence`, `not_a_name`.

```python
`irreps` stays code
```
'''


def test_render_math_links_and_navigation():
    nb = _nb(nbformat.v4.new_markdown_cell(MD), nbformat.v4.new_code_cell('#| echo: false\nshow_doc(f)'))
    nb.cells[-1].outputs = [nbformat.v4.new_output('display_data', data={
        'text/markdown': '### f\n\n> f (x)\n\n*Power $P_\\rho$ of `irreps` output*', 'text/plain': 'f'})]
    pages = [('index.html', 'Home'), ('fourier.html', 'Fourier'), ('tutorial_x.html', 'X')]
    body = build_docs.render(nb, pages, 'fourier.html', 'site')
    text = _text(body)
    assert body.count('<math ') == 6 and 'ns0:' not in body and body.count('display="block"') == 1, body.count('<math ')
    assert not re.search(r'\$[^$\s][^$]*\$', text.replace('$not math$', '')) and '\\frac' not in text
    assert '<code>$not math$</code>' in body and '<table>' in body and body.count('<td>') == 2
    assert '<a class="doclink" href="fourier.html#irreps"><code>irreps</code></a>' in body
    assert '<a class="doclink" href="fourier.html#irreps"><code>irreps()</code></a>' in body
    assert 'href="groups.html#finitegroup.compose"' in body and 'href="sequential.html#train_sequence"' in body
    assert '<code>not_a_name</code>' in body and 'doclink" href="fourier.html#irreps"><code>irreps</code></a> stays' not in body
    assert re.search(r'<a href="fourier.html" aria-current="page"', body) and body.count(' aria-current="page"') == 1
    assert 'rel="prev" href="index.html"' in body and 'rel="next" href="tutorial_x.html"' in body
    assert 'mathjax' not in body.lower() and 'require.js' not in body and 'cdnjs' not in body


def test_unconvertible_math_stops_the_build():
    with pytest.raises(ValueError, match='latex2mathml cannot convert'):
        build_docs.mathml(r'\frac{1}{')


def test_doclinks_fall_back_to_an_anchor_that_exists(tmp_path):
    (tmp_path / 'a.html').write_text('<h2 id="finitegroup">x</h2><a class="doclink" href="a.html#finitegroup.compose">'
                                     '<a class="doclink" href="a.html#gone"><a class="doclink" href="b.html#y">')
    build_docs.fix_doclinks(tmp_path, ['a.html'])
    s = (tmp_path / 'a.html').read_text()
    assert 'href="a.html#finitegroup"' in s and 'href="a.html"' in s and 'href="b.html#y"' in s


# ---- the whole site (built once by `make test`) --------------------------------------------------------------------
@pytest.fixture(scope='module')
def site(tmp_path_factory):
    return site_dir(tmp_path_factory)


@pytest.mark.slow
def test_whole_site(site):
    pages = expected_pages()
    n_tutorials = len(list((ROOT / 'nbs' / 'tutorials').glob('*.ipynb')))
    assert len(pages) == len(list((ROOT / 'nbs').glob('[0-9]*_*.ipynb'))) + 1 + n_tutorials
    _check(site, pages)
    for page in pages[1:]:
        if not page.startswith('tutorial_'):
            _check_anchors(site, page[:-5])
    viz = (site / 'viz.html').read_text(encoding='utf-8')
    assert '#|' not in _text(viz) and 'nbdev_export' not in viz  # directives and export cells are not shown
    assert '<h3' in viz and 'Heatmap of the character table' in viz  # show_doc Markdown rendered as HTML
    assert '{target=' not in viz
    fourier = (site / 'fourier.html').read_text(encoding='utf-8')
    assert fourier.count('<math ') > 50 and 'class="doclink"' in fourier
    assert (site / 'pagefind' / 'pagefind.js').exists() and (site / 'pagefind' / 'pagefind-ui.js').exists()


# ---- README (GitHub renders it) -------------------------------------------------------------------------------------
def test_readme_math_and_images_render_on_github():
    "GitHub renders `$...$` / `$$...$$` math and images by relative path: every span is well formed, every image is there."
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    prose = re.sub(r'```.*?```', '', readme, flags=re.S)
    prose = re.sub(r'`[^`\n]*`', '', prose)
    spans = re.findall(r'(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$', prose)
    assert spans
    for s in spans:
        assert s == s.strip(), f'GitHub needs no space inside $...$: ${s}$'
        build_docs.mathml(s)
    images = re.findall(r'!\[[^\]]*\]\(([^)\s]+)', readme) + re.findall(r'<img [^>]*src="([^"]+)"', readme)
    assert images
    for src in images:
        assert not re.match(r'[a-z]+:|/', src), f'README image not relative to the repository: {src}'
        assert (ROOT / src).is_file(), src


# nbdev's own docs pipeline (`nbdev_proc_nbs`, which `nbdev_docs` runs before Quarto) executes only a notebook's
# export, import and show_doc cells; a cell that mixes imports with test code using an unexported name from an
# earlier cell raises NameError there (nbdev warns "Found cells containing imports and other code. See FAQ.").
# These notebooks have such a cell; split its import lines into a cell of their own, then drop it from this set.
PROC_NBS_BROKEN = set()
# All notebooks in one process (torch and the package are imported once, not once per notebook).
PROC = """
import json, os, sys, traceback, warnings; warnings.simplefilter('ignore'); os.environ['IN_TEST'] = '1'
from execnb.nbio import read_nb
from nbdev.processors import FilterDefaults
res = {}
for p in sys.argv[1:]:
    try:
        FilterDefaults()(read_nb(p)); res[p] = None
    except BaseException:
        res[p] = traceback.format_exc()[-2000:]
print('RESULTS' + json.dumps(res))
"""
_proc = {}


def _proc_results():
    if not _proc:
        env = {**os.environ, 'MPLBACKEND': 'Agg'}
        r = subprocess.run([sys.executable, '-c', PROC, *map(str, build_docs.notebooks())], cwd=ROOT / 'nbs', env=env,
                           capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0 and 'RESULTS' in r.stdout, r.stderr[-2000:]
        _proc.update(json.loads(r.stdout.rsplit('RESULTS', 1)[1]))
    return _proc


@pytest.mark.slow
@pytest.mark.parametrize('nb', [pytest.param(p.stem, marks=pytest.mark.xfail(p.stem in PROC_NBS_BROKEN, strict=True,
                                                                              reason='import + test code in one cell'))
                                for p in build_docs.notebooks()])
def test_nbdev_processors_run_for_quarto(nb):
    "What `nbdev_docs` does to each notebook before Quarto renders it (Quarto itself is not installable here)."
    err = _proc_results()[str(next(p for p in build_docs.notebooks() if p.stem == nb))]
    assert err is None, err
