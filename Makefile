# group_agf: the two commands of the README.
#   make run   -- set up a virtual environment and run the main job on its built-in defaults
#   make test  -- set up and run every check CI runs (notebooks clean and exported, every notebook executed once
#                 by the docs build, pytest on the package and on the built site, in headless Chromium too)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.group_agf-installed
# Small eigenproblems and matmuls are slower with threaded BLAS on a busy 2-core machine.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg
# Recipes (and the notebooks nbdev_test runs) see the project's venv first.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test sync nbtest pytest readme docs serve-docs browser clean
SITE ?= _site

setup: $(STAMP)

# torch==2.13.0 first: an unpinned torch in a fresh venv resolves to a multi-GB CUDA build.
$(STAMP): setup.py settings.ini
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

run: setup
	$(BIN)/group-agf train

# Every notebook executes once, in the docs build (it fails if any cell raises, as nbdev_test would: same notebooks,
# IN_TEST=1, tst_flags cells skipped). The other tests run beside it, in two pytest-xdist workers (a test file stays in
# one worker, with its module fixtures), so that both cores stay busy once the docs build ends; their output is shown
# when they finish, with the slowest tests. Then the tests of the built site (test/test_site*.py, headless Chromium
# included) check that one site instead of executing the notebooks again.
test: setup sync
	@log=$$(mktemp); \
	$(BIN)/python -m pytest test/ -q -n 2 --dist loadfile --durations=15 --ignore-glob='test/test_site*.py' > $$log 2>&1 & tests=$$!; \
	$(BIN)/python tools/build_docs.py --out $(SITE); docs=$$?; \
	wait $$tests; other=$$?; cat $$log; rm -f $$log; \
	[ $$docs -eq 0 ] || { echo "FAIL: a notebook cell raised (docs build above)" >&2; exit 1; }; \
	[ $$other -eq 0 ] || { echo "FAIL: pytest (output above)" >&2; exit 1; }; \
	GROUP_AGF_SITE=$(abspath $(SITE)) $(BIN)/python -m pytest test/test_site*.py -q -rs -s

# Notebooks are clean and the exported package is in sync with nbs/ (neither command may change a file).
sync: setup
	bash tools/check_sync.sh

# nbdev's own notebook runner (make test executes the notebooks through the docs build instead).
nbtest: setup
	$(BIN)/nbdev_test --n_workers 1 --do_print --timing

# pytest alone: without a built site (GROUP_AGF_SITE) the site tests build one themselves.
pytest: setup
	$(BIN)/python -m pytest test/ -q

readme: setup
	$(BIN)/python tools/build_readme.py

# The documentation site without Quarto (one HTML page per notebook, executed, with MathML math, API links and a
# pagefind search index, into _site/); with Quarto: nbdev_docs. DOCS_JOBS notebooks run at once (default 2).
docs: setup
	$(BIN)/python tools/build_docs.py --out $(SITE)

serve-docs:
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(SITE) 8000

# Headless Chromium for test/test_site_browser.py (Debian packages; needs root). CI runs it from .ci/run.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; }

clean:
	rm -rf $(VENV) _docs _proc _site results
