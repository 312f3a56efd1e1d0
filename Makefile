# group_agf: the two commands of the README.
#   make run   -- set up a virtual environment and run the main job on its built-in defaults
#   make test  -- set up and run every check CI runs (notebooks clean and exported, nbdev_test, pytest)
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

.PHONY: setup run test sync nbtest pytest readme docs clean

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

test: setup sync nbtest pytest

# Notebooks are clean and the exported package is in sync with nbs/ (neither command may change a file).
sync: setup
	bash tools/check_sync.sh

nbtest: setup
	$(BIN)/nbdev_test --n_workers 1 --do_print --timing

pytest: setup
	$(BIN)/python -m pytest test/ -q

readme: setup
	$(BIN)/python tools/build_readme.py

# The documentation site without Quarto (one HTML page per notebook, executed, into _site/); with Quarto: nbdev_docs.
docs: setup
	$(BIN)/python tools/build_docs.py

clean:
	rm -rf $(VENV) _docs _proc _site results
