"""Headless Chromium for the browser tests (not a test module): Debian's `chromium` driven by selenium through
`chromedriver`, as test/test_site_browser.py (the docs site) and test/test_explorers_browser.py (the explorers in
Voila) use it.

Chromium missing: in CI (CI=true) a test that needs it fails (`.ci/run` installs `chromium` and `chromium-driver`);
elsewhere it skips, naming the apt-get command (`make browser`)."""
import contextlib
import os
import shutil
import tempfile

import pytest

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1280,1000']


def missing(msg):
    "Fail in CI (CI=true), where everything the browser tests need is installed; skip elsewhere, saying why."
    if os.environ.get('CI') == 'true':
        pytest.fail(msg)
    pytest.skip(msg)


def browser_paths():
    "Paths of `chromium` and `chromedriver` (and selenium importable), or a skip/fail saying how to install them."
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    try:
        import selenium  # noqa: F401
    except ImportError:
        driver = None
    if chromium and driver:
        return chromium, driver
    missing('headless Chromium is needed: apt-get install -y --no-install-recommends chromium chromium-driver '
            '(make browser), and selenium (dev requirements)')


@contextlib.contextmanager
def chromium(page_load_strategy: str = 'normal'):
    "A headless Chromium webdriver with a fresh profile, its console log kept (`get_log('browser')`); quit at exit."
    chromium_path, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix='chromium-profile-')
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium_path
    opts.page_load_strategy = page_load_strategy   # 'none': get() returns at once, the caller waits for what it needs
    for f in CHROMIUM_FLAGS + [f'--user-data-dir={profile}']:
        opts.add_argument(f)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def severe(drv):
    "The console's errors since the last call (SEVERE entries of the browser log)."
    return [e for e in drv.get_log('browser') if e.get('level') == 'SEVERE']
