# The two commands that do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv if missing, installs kedge with its compiled core and what it needs, then runs.
# `make bench`: micro benchmarks + a 1,000-node density test, compared with bench/baseline.json (fails on a
# regression); `make bench-baseline` stores that run as the baseline; `make bench-scale`: the full curve.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kedge-installed
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench bench-baseline bench-scale lint install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install when the build inputs change (the .pyx twins are compiled by setup.py).
$(STAMP): $(PY) pyproject.toml setup.py $(wildcard src/kedge/_core/*.pyx)
	$(PIP) install -e '.[cloud,edge,mapper,test,bench]'
	$(PY) -c "import kedge._core.router as r, sys; sys.exit(0 if r.COMPILED else 'compiled core did not load')"
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/kedge demo

test: install
	bash ci/test.sh

bench: install
	bash ci/bench_all.sh

bench-baseline: install
	bash ci/bench_all.sh --update-baseline

bench-scale: install
	mkdir -p bench/results
	$(PY) -m bench.scale.curve --nodes 1000,5000,10000

lint: install
	bash ci/lint.sh

clean:
	rm -rf build src/*.egg-info src/kedge/_core/_*_c.c src/kedge/_core/*.so src/kedge/_core/*.html
