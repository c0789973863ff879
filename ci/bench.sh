#!/usr/bin/env bash
# Micro benchmarks (pytest-benchmark): both _core twins in one run, then the py/c ratios.
# Extra arguments go to pytest, e.g. `bash ci/bench.sh -k router` or `--benchmark-json=out.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest bench -p no:cacheprovider --benchmark-enable --benchmark-only \
    --benchmark-columns=min,median,mean,ops,rounds --benchmark-sort=name --benchmark-group-by=group "$@"
