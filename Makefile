# The two commands of the README:
#   make run     set up (R, a virtualenv), then check parity on the article's case
#   make test    set up, then run every check CI runs (tox)
# and two helpers:
#   make doctor  say what a run needs and what is missing, with the command that fixes it
#   make wheel   build the wheel (dist/nnparity-*.whl)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# rpy2 for Debian bookworm's R 4.2 (see the file); tox reads the same file.
CONSTRAINTS ?= constraints/debian-bookworm.txt

.PHONY: setup run test doctor wheel clean

setup: $(BIN)/nnparity

$(BIN)/nnparity: pyproject.toml scripts/setup-system.sh $(CONSTRAINTS)
	@echo "==> 1/3 Debian packages: R, testthat, lintr, Chromium, python3-venv, OpenBLAS, BLIS (scripts/setup-system.sh)"
	bash scripts/setup-system.sh
	@echo "==> 2/3 a virtualenv in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	@echo "==> 3/3 nnparity (editable), its test tools, tox and tox-uv into $(VENV), with $(CONSTRAINTS)"
	$(BIN)/pip install --constraint $(CONSTRAINTS) -e '.[test]' 'tox>=4.11' 'tox-uv>=1.11'
	@# Compiled modules, as pip writes them for a wheel (an editable install does not, and a
	@# Python run with PYTHONDONTWRITEBYTECODE never does): each run's supervisor and workers
	@# compiled ~0.15 s of nnparity from source at every start (docs/benchmarks.md).
	$(BIN)/python -m compileall -q nnparity python_impl tools
	touch $@
	@echo "==> set-up done: \`. $(VENV)/bin/activate\` puts nnparity and tox on your PATH"

run: setup
	$(BIN)/nnparity run --case article

test: setup
	$(BIN)/tox $(TOX_ARGS)

doctor: setup
	$(BIN)/nnparity doctor

wheel: setup
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) .tox dist build
