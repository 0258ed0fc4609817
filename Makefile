# One command for each job on a fresh machine (Python 3.11, npm):
#   make book   set up and build the book into _build/html
#   make test   set up and run ruff + the test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup book test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,book]"
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(STAMP) node_modules/.installed

_assets/mathjax/tex-chtml.js: node_modules/.installed
	rm -rf _assets/mathjax && mkdir -p _assets/mathjax
	cd node_modules/mathjax/es5 && cp -r tex-chtml.js a11y adaptors input output sre ui \
	    $(CURDIR)/_assets/mathjax/

book: setup _assets/mathjax/tex-chtml.js
	$(VENV)/bin/jupyter-book build . --builder html --warningiserror --nitpick --keep-going

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_env.py

clean:
	rm -rf _build _assets/mathjax
