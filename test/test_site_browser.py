"""The documentation site in a real browser: Debian's headless `chromium` driven by selenium through `chromedriver`.

The test serves the built site (see test/docs_site.py) on 127.0.0.1 itself and opens every page as a reader would:
no console errors, every internal link resolves (page and anchor), math is rendered as MathML and no visible prose
holds raw `$...$` or LaTeX commands, a search for "irreps" lists the Fourier page, and screenshots of the index and of
a tutorial are written into the site folder (`screenshot_index.png`, `screenshot_tutorial.png`).

Chromium (test/chromium.py) missing: in CI (CI=true) the test fails (`.ci/run` installs `chromium` and
`chromium-driver`); elsewhere it skips, naming the apt-get command (`make browser`)."""
import functools
import http.server
import json
import re
import threading
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from chromium import chromium, severe
from docs_site import expected_pages, site_dir

TUTORIAL = 'tutorial_staircase.html'
# Raw LaTeX a reader must never see outside code: a `$...$` span or a TeX command.
RAW_MATH = re.compile(r'\$[^\s$][^$\n]{0,200}?\$|\\(?:frac|mathbb|mathrm|mathcal|operatorname|sum|sqrt|begin|left|right|cdot|le|ge|to)\b')


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    "The site folder and the URL it is served at on 127.0.0.1."
    site = site_dir(tmp_path_factory)
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield site, f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope='module')
def browser():
    with chromium() as drv:
        yield drv


# In the page: ids, links, math count, and the visible text of everything but code (pre/code/script/style/math).
INSPECT = r'''
const ids = Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name'));
const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
const maths = document.querySelectorAll('math').length;
const mathRaw = Array.from(document.querySelectorAll('math')).map(m => m.textContent).filter(t => /\\[A-Za-z|_]/.test(t));
const sized = Array.from(document.querySelectorAll('math')).filter(m => m.getBoundingClientRect().width > 0).length;
const skip = 'pre, code, script, style, math, .jp-OutputArea-output pre';
const texts = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walk.nextNode()) {
  const n = walk.currentNode, p = n.parentElement;
  if (!p || p.closest(skip) || !n.textContent.trim()) continue;
  if (!p.getClientRects().length) continue;   // not displayed
  texts.push(n.textContent);
}
// Visible prose block by block (a `$...$` split by emphasis would span text nodes).
const blocks = Array.from(document.querySelectorAll('main p, main li, main h1, main h2, main h3, main h4, main td, main th, main blockquote, #docs-nav'))
  .map(b => { const c = b.cloneNode(true); c.querySelectorAll(skip).forEach(e => e.remove()); return c.textContent; });
return JSON.stringify({ids, links, maths, sized, texts, blocks, mathRaw, title: document.title});
'''


def inspect(browser, url):
    "Open `url` and return what the reader gets: ids, links, math counts, console errors, raw LaTeX in visible text."
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script('return document.readyState') == 'complete')
    info = json.loads(browser.execute_script(INSPECT))
    info['errors'] = [e['message'] for e in severe(browser)]
    info['raw'] = sorted({m.group(0) for t in info['texts'] + info['blocks'] for m in RAW_MATH.finditer(t)} |
                         {f'in MathML: {t}' for t in info['mathRaw']})  # a command latex2mathml passed through
    return info


def broken_links(seen, base, site):
    "Internal links of the inspected pages whose page (a page seen, or a file of the site) or anchor is missing."
    ids = {p: set(i['ids']) for p, i in seen.items()}
    broken, n = [], 0
    for page, info in seen.items():
        for href in info['links']:
            if urlparse(href).netloc != urlparse(base).netloc:
                continue
            n += 1
            url, frag = urldefrag(href)
            target = urlparse(url).path.lstrip('/') or 'index.html'
            if target in ids:
                if frag and frag not in ids[target]:
                    broken.append(f'{page} -> {target}#{frag} (no such anchor)')
            elif not (site / target).is_file():
                broken.append(f'{page} -> {target} (no such file)')
    return broken, n


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    "The checks below are not vacuous: raw LaTeX, a console error and broken links on a page are all reported."
    (tmp_path / 'a.html').write_text(
        '<html><head><title>a</title><script>console.error("boom")</script></head><body><main>'
        '<p>raw $\\frac{1}{|G|}$ and <em>\\mathbb{Z}</em></p><pre>$code is fine$</pre>'
        '<math><mi>x</mi></math><math><mi>\\argmax</mi></math><a href="a.html#nowhere">x</a><a href="gone.html">y</a><h2 id="here">h</h2>'
        '<a href="a.html#here">ok</a></main></body></html>')
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f'http://127.0.0.1:{httpd.server_address[1]}/'
        info = inspect(browser, base + 'a.html')
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert info['raw'] == ['$\\frac{1}{|G|}$', '\\mathbb', 'in MathML: \\argmax'] and info['maths'] == 2
    assert any('boom' in e for e in info['errors'])
    broken, n = broken_links({'a.html': info}, base, tmp_path)
    assert n == 3 and sorted(broken) == ['a.html -> a.html#nowhere (no such anchor)', 'a.html -> gone.html (no such file)']


def test_site_in_chromium(served, browser):
    site, base = served
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    pages = expected_pages()
    seen = {page: inspect(browser, base + page) for page in pages}
    assert all(i['title'] for i in seen.values())
    errors = {p: i['errors'] for p, i in seen.items() if i['errors']}
    raw = {p: i['raw'][:10] for p, i in seen.items() if i['raw']}
    math = {p: (i['maths'], i['sized']) for p, i in seen.items()}
    assert not errors, f'console errors: {errors}'
    assert not raw, f'unrendered LaTeX in visible text: {raw}'

    # Every internal link: the target page exists (a built page, or a file of the site) and so does its anchor.
    broken, n_links = broken_links(seen, base, site)
    assert not broken, f'{len(broken)} broken links: {broken[:20]}'

    # Math: MathML elements on the pages whose notebooks have math, each laid out (width > 0).
    n_math = sum(m for m, _ in math.values())
    assert all(m == s for m, s in math.values()), {p: m for p, m in math.items() if m[0] != m[1]}
    for page in ['fourier.html', 'groups.html', 'analysis.html', 'sequential.html', 'index.html', TUTORIAL]:
        assert math[page][0] > 0, f'{page}: no math element'

    # Previous/next on every page; the sidebar marks the current page.
    for page in pages:
        browser.get(base + page)
        cur = browser.find_elements(By.CSS_SELECTOR, '#docs-nav a[aria-current="page"]')
        assert [a.get_attribute('href') for a in cur] == [urljoin(base, page)], page
        pager = browser.find_elements(By.CSS_SELECTOR, '.docs-pager a')
        assert len(pager) == (1 if page in (pages[0], pages[-1]) else 2), page

    # Search from a page other than the Fourier page.
    browser.get(base + TUTORIAL)
    box = WebDriverWait(browser, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, '.pagefind-ui__search-input'))
    box.send_keys('irreps')
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.pagefind-ui__result-link'))
    hits = [a.get_attribute('href') for a in browser.find_elements(By.CSS_SELECTOR, '.pagefind-ui__result-link')]
    assert any(urlparse(h).path.endswith('fourier.html') for h in hits), hits
    assert not severe(browser)

    # Screenshots of the index and a tutorial, into the site folder.
    browser.set_window_size(1280, 2000)  # tall enough for the tutorial's first figure
    for page, name in [('index.html', 'screenshot_index.png'), (TUTORIAL, 'screenshot_tutorial.png')]:
        browser.get(base + page)
        browser.save_screenshot(str(site / name))
        assert (site / name).stat().st_size > 10_000
    report = {'pages': len(pages), 'internal_links': n_links, 'math_elements': n_math, 'unrendered_spans': 0,
              'console_errors': 0, 'search_irreps_results': len(hits), 'screenshots': ['screenshot_index.png', 'screenshot_tutorial.png']}
    (site / 'browser_check.json').write_text(json.dumps(report, indent=1))
    print(f'\nbrowser: {len(pages)} pages, {n_links} internal links, {n_math} math elements, 0 unrendered spans, '
          f'search "irreps" -> {len(hits)} results; screenshots in {site}')


def test_explorers_page_shows_the_controls(served, browser):
    """The explorers page embeds its widgets' state: the widget manager shipped in the site (widgets/embed.js, no CDN)
    draws both explorers' controls and their saved figure, once each. Offline there is no kernel: a control moves and
    its readout changes, but the figure stays as saved (test/test_explorers_browser.py drives them live, in Voila)."""
    site, base = served
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    assert (site / 'widgets' / 'embed.js').is_file()
    browser.get(base + 'explorers.html')
    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '.widget-output img')) == 2)
    shown = json.loads(browser.execute_script('''return JSON.stringify({
        handles: document.querySelectorAll('.noUi-handle').length, dropdowns: document.querySelectorAll('.widget-dropdown select').length,
        figures: document.querySelectorAll('.widget-output img').length, images: document.querySelectorAll('main img').length,
        readouts: Array.from(document.querySelectorAll('.widget-readout')).map(r => r.textContent.trim())})'''))
    assert shown['handles'] == 2 and shown['dropdowns'] == 2 and shown['figures'] == shown['images'] == 2, shown
    epoch = browser.find_elements(By.CSS_SELECTOR, '.noUi-handle')[0]
    epoch.click()
    epoch.send_keys(Keys.ARROW_LEFT)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.widget-readout')[0].text.strip() != shown['readouts'][0])
    assert not severe(browser)
    print(f'\nexplorers page: {shown["handles"]} sliders, {shown["dropdowns"]} dropdowns, {shown["figures"]} figures (static)')
