#!/usr/bin/env bash
# containerd for Edged's tests: install from Debian, start a private instance, import test images, stop.
#   ci/containerd.sh install            apt packages (root): containerd runc containernetworking-plugins busybox-static
#   ci/containerd.sh start BASE         config, images and a running containerd under BASE; prints its socket
#   ci/containerd.sh stop BASE          stops it and removes what it left outside BASE
# Facts and pitfalls: ../shared/reference/containerd.md (restrict_oom_score_adj is required on these VMs:
# they lack CAP_SYS_RESOURCE; no systemd, so containerd runs in the background with its PID in BASE).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PKGS="containerd runc containernetworking-plugins busybox-static"

install() {
    if command -v containerd >/dev/null && command -v runc >/dev/null && [ -x /bin/busybox ] \
        && [ -x /usr/lib/cni/bridge ]; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
}

start() {
    local base="$1"
    mkdir -p "$base"/{root,state,opt,runc,logs,cni/net.d,cni/ipam}
    base="$(cd "$base" && pwd)"
    cat > "$base/config.toml" <<TOML
version = 2
root = "$base/root"
state = "$base/state"
[grpc]
  address = "$base/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$base/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$base/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "$base/runc"
TOML
    cat > "$base/cni/net.d/10-kedge-bridge.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "kedge-bridge", "plugins": [
  {"type": "bridge", "bridge": "kedge0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]], "dataDir": "$base/cni/ipam"}}]}
JSON
    python3 "$here/build_image.py" "$base/busybox.tar" localhost/busybox:1
    python3 "$here/build_image.py" "$base/pause.tar" localhost/pause:1 /bin/sleep inf
    containerd --config "$base/config.toml" > "$base/containerd.log" 2>&1 &
    local pid=$!
    echo "$pid" > "$base/containerd.pid"
    local sock="$base/containerd.sock"
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "containerd exited at start:" >&2
            tail -20 "$base/containerd.log" >&2
            exit 1
        fi
        if [ -S "$sock" ] && ctr --address "$sock" --timeout 2s version >/dev/null 2>&1; then
            break
        fi
        sleep 0.05
    done
    ctr --address "$sock" --timeout 10s -n k8s.io images import "$base/busybox.tar" >/dev/null
    ctr --address "$sock" --timeout 10s -n k8s.io images import "$base/pause.tar" >/dev/null
    echo "$sock"
}

stop() {
    local base="$1"
    if [ -f "$base/containerd.pid" ]; then
        local pid
        pid="$(cat "$base/containerd.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$base/containerd.pid"
    fi
    ip link del kedge0 2>/dev/null || true
}

cmd="${1:-}"
case "$cmd" in
    install) install ;;
    start) start "${2:?usage: $0 start BASE}" ;;
    stop) stop "${2:?usage: $0 stop BASE}" ;;
    *) echo "usage: $0 install | start BASE | stop BASE" >&2; exit 2 ;;
esac
