#!/usr/bin/env bash
# ruff (lint + format check) and the import-layering contracts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m ruff check src tests bench ci
$PY -m ruff format --check src tests bench ci
.venv/bin/lint-imports
