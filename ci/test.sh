#!/usr/bin/env bash
# The whole suite twice: with the compiled core, then with the pure-Python twins.
# Both legs also run the tests that exercise both twins side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
bash ci/lint.sh
if [ "${KEDGE_REQUIRE_SYSTEM:-}" = "1" ]; then
    bash ci/containerd.sh install  # containerd, runc, CNI plugins, busybox-static (Debian)
    bash ci/mosquitto.sh install   # the external MQTT broker (Debian)
fi
echo "== kedge tests: compiled core"
$PY -m pytest -p no:cacheprovider "$@"
echo "== kedge tests: pure-Python core (KEDGE_NO_EXTENSIONS=1)"
KEDGE_NO_EXTENSIONS=1 $PY -m pytest -p no:cacheprovider "$@"
