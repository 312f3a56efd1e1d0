"""The built documentation site the docs tests check (not a test module).

`make test` builds the site once with tools/build_docs.py (that build is also the notebook test: it executes every
notebook) and passes its folder in GROUP_AGF_SITE; test/test_docs.py and test/test_site_browser.py check that folder.
Run alone, without GROUP_AGF_SITE, they build the whole site themselves into a temporary folder (minutes)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
import build_docs  # noqa: E402

_built = {}


def expected_pages():
    return [build_docs.page_name(p) for p in build_docs.notebooks()]


def site_dir(tmp_path_factory):
    "The folder of the whole built site: GROUP_AGF_SITE if set (it must hold every page), else a fresh build."
    if 'site' not in _built:
        given = os.environ.get('GROUP_AGF_SITE')
        if given:
            out = Path(given).resolve()
            missing = [p for p in expected_pages() if not (out / p).exists()]
            assert not missing, f'GROUP_AGF_SITE={given} misses {missing}: build it with `make docs` first'
        else:
            out = tmp_path_factory.mktemp('site')
            build_docs.build(out, verbose=False)
        _built['site'] = out
    return _built['site']
