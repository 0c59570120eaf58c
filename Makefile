# The two commands of the README:
#   make run    set up (R, a virtualenv), then check parity on the article's case
#   make test   set up, then run every check CI runs (tox)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup run test clean

setup: $(BIN)/nnparity

$(BIN)/nnparity: pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' 'tox>=4.11'
	touch $@

run: setup
	$(BIN)/nnparity run --case article

test: setup
	$(BIN)/tox $(TOX_ARGS)

clean:
	rm -rf $(VENV) .tox
