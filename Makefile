# One command for each job on a fresh machine (Python 3.11, npm; root for the browser):
#   make book   set up and build the book into _build/html (the main job)
#   make test   set up, lint, build the book, run the tests (browser test included)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup browser book test lint pytest bench reproduce mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,book,cluster]"
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium for the browser test, where it can be installed (root); otherwise the
# browser test is skipped with the reason printed.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || echo "chromium not installed: the browser test will be skipped"; }

setup: $(STAMP) node_modules/.installed

_assets/mathjax/tex-chtml.js: node_modules/.installed
	rm -rf _assets/mathjax && mkdir -p _assets/mathjax
	cd node_modules/mathjax/es5 && cp -r tex-chtml.js a11y adaptors input output sre ui \
	    $(CURDIR)/_assets/mathjax/

book: setup _assets/mathjax/tex-chtml.js
	$(VENV)/bin/jupyter-book build . --builder html --warningiserror --keep-going

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: $(STAMP)
	$(VENV)/bin/pytest

test: lint browser book pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_env.py

reproduce: $(STAMP)
	$(PY) -m dnt reproduce all

# Mutation testing, not part of `make test` (it takes a long while): mutmut mutates the modules
# listed in pyproject.toml's [tool.mutmut] (a copy under mutants/), runs the fast unit tests
# against each mutant, and a score per module is printed. Results are kept in mutants/: a second
# run retests only changed functions (rm -rf mutants for a fresh run). MUTATION_JOBS=1 on a busy
# machine; MUTANTS="dnt.repro.claims*" tests one module's mutants only.
MUTATION_JOBS ?= 2
MUTANTS ?=
mutation: $(STAMP)
	$(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(PY) benchmarks/mutation_scores.py

clean:
	rm -rf _build _assets/mathjax
