#!/usr/bin/env bash
# mosquitto for EventBus's external-broker mode: install from Debian, start a private instance, stop it.
#   ci/mosquitto.sh install            apt package (root): mosquitto (and mosquitto-clients for debugging)
#   ci/mosquitto.sh start BASE PORT    a broker on 127.0.0.1:PORT with its config, log and pid under BASE
#   ci/mosquitto.sh stop BASE          stops it
# The Debian package starts no daemon here (no systemd); each test starts its own on a free port.
set -euo pipefail

install() {
    if command -v mosquitto >/dev/null; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null
}

start() {
    local base="$1" port="$2"
    mkdir -p "$base"
    base="$(cd "$base" && pwd)"
    cat > "$base/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
set_tcp_nodelay true
CONF
    mosquitto -c "$base/mosquitto.conf" > "$base/mosquitto.out" 2>&1 &
    local pid=$!
    echo "$pid" > "$base/mosquitto.pid"
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "mosquitto exited at start:" >&2
            cat "$base/mosquitto.out" >&2 || true
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "127.0.0.1:$port"
            return 0
        fi
        sleep 0.05
    done
    echo "mosquitto did not listen on $port" >&2
    exit 1
}

stop() {
    local base="$1"
    if [ -f "$base/mosquitto.pid" ]; then
        local pid
        pid="$(cat "$base/mosquitto.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$base/mosquitto.pid"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start "$2" "$3" ;;
    stop) stop "$2" ;;
    *) echo "usage: $0 install | start BASE PORT | stop BASE" >&2; exit 2 ;;
esac
