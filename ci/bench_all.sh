#!/usr/bin/env bash
# `make bench`: the micro benchmarks, a short density test (1,000 hollow nodes), then a comparison with
# bench/baseline.json that exits non-zero when a figure regressed beyond its threshold.
# Arguments go to bench.scale.compare, e.g. `--update-baseline` (what `make bench-baseline` passes) or
# `--threshold-micro 1.5`. Micro benchmarks alone: `bash ci/bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
bash ci/bench.sh --benchmark-json=bench/results/micro.json
.venv/bin/python -m bench.scale.density --nodes 1000 --pods 2000 --out bench/results/density-1000.json
.venv/bin/python -m bench.scale.compare \
    --micro bench/results/micro.json \
    --density bench/results/density-1000.json \
    --baseline bench/baseline.json "$@"
