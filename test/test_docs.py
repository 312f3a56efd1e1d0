"""The documentation builder (tools/build_docs.py) and the README: what the build executes, how it renders math,
API links and navigation (on small notebooks, without executing the package's notebooks), and what nbdev's own
pipeline does before Quarto. The built site itself is checked in test/test_site.py and test/test_site_browser.py."""
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

from docs_site import build_docs

ROOT = Path(__file__).resolve().parents[1]

# ---- what the builder runs -----------------------------------------------------------------------------------------
def test_page_names_match_nbdev_and_modidx():
    from group_agf._modidx import d
    modidx_pages = {v[0].split('#')[0] for syms in d['syms'].values() for v in syms.values()}
    pages = {build_docs.page_name(p) for p in build_docs.notebooks()}
    tutorials = {build_docs.page_name(p) for p in (ROOT / 'nbs' / 'tutorials').glob('*.ipynb')}
    overviews = {build_docs.page_name(p) for p in build_docs.notebooks() if _exports_no_name(p)}   # a package's map
    assert overviews == {'sequential.html'}
    assert tutorials and pages == modidx_pages | {'index.html'} | tutorials | overviews


def _exports_no_name(nb_path) -> bool:
    "Whether a notebook's module exports no public name (a package `__init__` that only maps its submodules)."
    first = ''.join(''.join(c['source']) for c in json.loads(nb_path.read_text())['cells'][:2])
    m = re.search(r'#\|\s*default_exp\s+(\S+)', first)
    if m is None: return False
    module = importlib.import_module('group_agf.' + m.group(1).removesuffix('.__init__'))
    return not getattr(module, '__all__', None)


def test_docs_build_executes_every_notebook_nbdev_test_would(monkeypatch):
    "The docs build replaces `nbdev_test` in `make test`: it must execute the same notebooks (nbdev's own glob)."
    from nbdev.doclinks import nbglob
    monkeypatch.chdir(ROOT)
    assert {Path(p).resolve() for p in nbglob(ROOT / 'nbs')} == {p.resolve() for p in build_docs.notebooks()}
    assert [p.stem for p in build_docs.notebooks(['index', 'groups', 'cogs_solutions'])] == ['index', '00_groups', 'cogs_solutions']


def _text(page):
    "Visible text of an HTML page (tags stripped, entities decoded)."
    s = re.sub(r'<(style|script)\b.*?</\1>', '', page, flags=re.S)
    return html.unescape(re.sub(r'<[^>]+>', '', s))


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
        'text/markdown': '[source](https://github.com/group-agf/group_agf/blob/main/group_agf/fourier.py#LNone)\n\n'
                         '### irreps\n\n```python\ndef irreps(\n    group:FiniteGroup, x\n)->tuple[Irrep, ...]:\n```\n\n*Power $P_\\rho$ of `irreps` output, shape (..., *S, n)*', 'text/plain': 'f'})]
    pages = [('index.html', 'Home'), ('fourier.html', 'Fourier'), ('tutorial_x.html', 'X')]
    body = build_docs.render(nb, pages, 'fourier.html', 'site')
    text = _text(body)
    assert body.count('<math ') == 6 and 'ns0:' not in body and body.count('display="block"') == 1, body.count('<math ')
    assert not re.search(r'\$[^$\s][^$]*\$', text.replace('$not math$', '')) and '\\frac' not in text
    assert '<code>$not math$</code>' in body and '<table>' in body and body.count('<td>') == 2
    assert '<a class="doclink" href="fourier.html#irreps"><code>irreps</code></a>' in body
    assert '<a class="doclink" href="fourier.html#irreps"><code>irreps()</code></a>' in body
    assert 'href="groups.html#finitegroup.compose"' in body and 'href="sequence_run.html#train_sequence"' in body
    assert '<code>not_a_name</code>' in body and 'doclink" href="fourier.html#irreps"><code>irreps</code></a> stays' not in body
    assert re.search(r'<a href="fourier.html" aria-current="page"', body) and body.count(' aria-current="page"') == 1
    assert 'rel="prev" href="index.html"' in body and 'rel="next" href="tutorial_x.html"' in body
    assert '<a class="doclink" href="groups.html#finitegroup"><span class="n">FiniteGroup</span></a>' in body  # signature
    assert '<a class="doclink" href="fourier.html#irrep"><span class="n">Irrep</span></a>' in body
    assert '#LNone' not in body and re.search(r'fourier.py#L\d+"', body)  # show_doc's source line
    assert re.search(r'<em>Power <math .*</math> of <a .*</a> output, shape \(\.\.\., \*S, n\)</em>', body)
    assert 'mathjax' not in body.lower() and 'require.js' not in body and 'cdnjs' not in body


def test_unconvertible_math_stops_the_build():
    with pytest.raises(ValueError, match='latex2mathml cannot convert'):
        build_docs.mathml(r'\frac{1}{')
    with pytest.raises(ValueError, match=r'unrendered'):  # an unknown command would show as raw text
        build_docs.mathml(r'\foo x')
    for tex in [r'\arg\max_\rho P', r'\lceil\text{test\_size}\cdot n\rceil', r'\big\|\tilde o\big\|^2', r'\operatorname*{argmin}']:
        assert '\\' not in re.sub(r'<[^>]+>', '', build_docs.mathml(tex)), tex


def test_doclinks_fall_back_to_an_anchor_that_exists(tmp_path):
    (tmp_path / 'a.html').write_text('<h2 id="finitegroup">x</h2><a class="doclink" href="a.html#finitegroup.compose">'
                                     '<a class="doclink" href="a.html#gone"><a class="doclink" href="b.html#y">')
    build_docs.fix_doclinks(tmp_path, ['a.html'])
    s = (tmp_path / 'a.html').read_text()
    assert 'href="a.html#finitegroup"' in s and 'href="a.html"' in s and 'href="b.html#y"' in s


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
