"""The whole documentation site, as `make test` built it once (GROUP_AGF_SITE, see test/docs_site.py): that build is
the notebook test, so no notebook runs twice. One page per notebook with the API signature of every exported function
and class, the figures, navigation to all pages, math as MathML, API links and a search index. Tests of the built site
live in test/test_site*.py: `make test` runs them after the build, and the other tests alongside it."""
import html
import importlib
import re
from pathlib import Path

import pytest

from docs_site import expected_pages, site_dir

ROOT = Path(__file__).resolve().parents[1]

FIGURE_PAGES = {'index.html', 'viz.html', 'analysis.html', 'tutorial_cogs_solutions.html', 'tutorial_li2_critical_ratio.html',
                'tutorial_staircase.html'}  # notebooks that show figures (06_train only saves PNGs)


def _text(page):
    "Visible text of an HTML page (tags stripped, entities decoded)."
    s = re.sub(r'<(style|script)\b.*?</\1>', '', page, flags=re.S)
    return html.unescape(re.sub(r'<[^>]+>', '', s))


def _documented(module):
    "Public functions and classes exported by `module` (its `__all__`, as nbdev writes it)."
    mod = importlib.import_module(module)
    return [n for n in mod.__all__ if callable(getattr(mod, n)) and getattr(getattr(mod, n), '__module__', '') == mod.__name__]


def _page_modules() -> dict:
    "Page -> the module it documents, from `_modidx.py` (a page name need not be its module's: 12a_sequence_data.ipynb)."
    from group_agf._modidx import d
    return {next(iter(syms.values()))[0].split('#')[0]: mod for mod, syms in d['syms'].items() if syms}


def _check(out, pages):
    modules = _page_modules()
    for page in pages:
        assert (out / page).exists(), page
        body = (out / page).read_text(encoding='utf-8')
        text = _text(body)
        assert all(f'href="{p}"' in body for p in pages), f'{page}: navigation misses a page'
        assert not re.search(r'<script[^>]+src="https?:', body), f'{page}: loads a script from the network'
        assert 'pagefind/pagefind-ui.js' in body and 'docs-search' in body, f'{page}: no search box'
        if page in modules:
            names = _documented(modules[page])
            assert names, page
            missing = [n for n in names if not re.search(rf'\b(def|class)\s+{re.escape(n)}\b', text)]
            assert not missing, f'{page}: no API signature for {missing}'
        if page in FIGURE_PAGES:
            assert re.search(r'<img [^>]*src="data:image/png;base64,', body), f'{page}: no figure'


def _check_anchors(out, page_name):
    "Links in `_modidx.py` (`groups.html#finitegroup`, lower case as Quarto makes them) land on the page."
    from group_agf._modidx import d
    module = _page_modules()[f'{page_name}.html']
    page = (out / f'{page_name}.html').read_text(encoding='utf-8')
    top = [v[0] for k, v in d['syms'][module].items() if k.count('.') == module.count('.') + 1 and k.split('.')[-1][0] != '_']
    missing = [a for a in top if f'id="{a.split("#")[1]}"' not in page]
    assert top and not missing, missing


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
        if page in _page_modules():          # every page but the tutorials and a package's map (sequential.html)
            _check_anchors(site, page[:-5])
    viz = (site / 'viz.html').read_text(encoding='utf-8')
    assert '#|' not in _text(viz) and 'nbdev_export' not in viz  # directives and export cells are not shown
    assert '<h3' in viz and 'Heatmap of the character table' in viz  # show_doc Markdown rendered as HTML
    assert '{target=' not in viz
    fourier = (site / 'fourier.html').read_text(encoding='utf-8')
    assert fourier.count('<math ') > 50 and 'class="doclink"' in fourier
    assert (site / 'pagefind' / 'pagefind.js').exists() and (site / 'pagefind' / 'pagefind-ui.js').exists()
