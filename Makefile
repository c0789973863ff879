# The two commands that do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv if missing, installs kedge with its compiled core and what it needs, then runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kedge-installed
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install when the build inputs change (the .pyx twins are compiled by setup.py).
$(STAMP): $(PY) pyproject.toml setup.py $(wildcard src/kedge/_core/*.pyx)
	$(PIP) install -e '.[cloud,edge,mapper,test]'
	$(PY) -c "import kedge._core.router as r, sys; sys.exit(0 if r.COMPILED else 'compiled core did not load')"
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/kedge demo

test: install
	bash ci/test.sh

bench: install
	bash ci/bench.sh

lint: install
	bash ci/lint.sh

clean:
	rm -rf build src/*.egg-info src/kedge/_core/_*_c.c src/kedge/_core/*.so src/kedge/_core/*.html
