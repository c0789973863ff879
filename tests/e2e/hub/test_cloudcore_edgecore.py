"""Real processes, used as an operator uses them: `kedge cloudcore` with its embedded API server,
`kedge gettoken`, `kedge join` (one node over WebSocket, one over QUIC), `kedge edgecore`, a cloudcore
restart the edges ride out, and `kedge reset`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.procs import READY, Proc, cloudcore_config, kedge, keep_edge_local, start_cloudcore


def test_cloudcore_join_edgecore_restart_and_reset(tmp_path: Path, procs: list[Proc]) -> None:
    cloud_dir = tmp_path / "cloud"
    config = tmp_path / "cloudcore.yaml"
    cfg = cloudcore_config(config, cloud_dir)
    hub = cfg["modules"]["cloudHub"]
    ready = start_cloudcore(procs, config, cloud_dir, tmp_path / "cloudcore-1.log")
    cloudcore = procs[-1]
    assert ready["ports"] == {
        "websocket": hub["websocket"]["port"],
        "quic": hub["quic"]["port"],
        "https": hub["https"]["port"],
        "metrics": int(cfg["commonConfig"]["monitorServer"]["bindAddress"].rpartition(":")[2]),
    }

    token = kedge("gettoken", "--data-dir", str(cloud_dir))
    assert token.returncode == 0, token.stderr
    token_text = token.stdout.strip()
    assert token_text == Path(ready["token"]).read_text().strip()  # the token cloudcore hands out

    nodes = {"edge-ws": "websocket", "edge-quic": "quic"}
    edge_dirs = {node: tmp_path / node for node in nodes}
    for node, protocol in nodes.items():
        joined = kedge(
            "join",
            "--cloudcore-ipport", "127.0.0.1:%d" % hub["websocket"]["port"],
            "--token", token_text,
            "--edgenode-name", node,
            "--data-dir", str(edge_dirs[node]),
            "--certport", str(hub["https"]["port"]),
            "--quicport", str(hub["quic"]["port"]),
            "--hub-protocol", protocol,
            "--runtime", "process",
        )  # fmt: skip
        assert joined.returncode == 0, joined.stderr
        assert "node %s joined" % node in joined.stdout
        keep_edge_local(edge_dirs[node] / "edgecore.yaml", tmp_path / (node + "-kubelet"))
    cloudcore.wait_for("issued a certificate for node edge-ws")

    edges = {
        node: Proc(
            tmp_path / ("%s.log" % node), "-v", "edgecore", "--config", str(edge_dirs[node] / "edgecore.yaml")
        )
        for node in nodes
    }
    procs.extend(edges.values())
    cloudcore.wait_for("node edge-ws connected (websocket, native lane, 127.0.0.1:")
    cloudcore.wait_for("node edge-quic connected (quic, native lane, 127.0.0.1:")
    for node, edge in edges.items():
        edge.wait_for("connected to the cloud as node %s (native)" % node)

    # cloudcore goes away and comes back on the same ports; the edges find it by themselves
    assert cloudcore.stop() == 0, cloudcore.text()[-4000:]
    assert not (cloud_dir / READY).exists()
    for edge in edges.values():
        edge.wait_for("cloud connection lost")
        assert edge.popen.poll() is None
    assert start_cloudcore(procs, config, cloud_dir, tmp_path / "cloudcore-2.log")["ports"] == ready["ports"]
    cloudcore = procs[-1]
    cloudcore.wait_for("node edge-ws connected (websocket, native lane, 127.0.0.1:", timeout=45)
    cloudcore.wait_for("node edge-quic connected (quic, native lane, 127.0.0.1:", timeout=45)
    for node, edge in edges.items():
        assert edge.text().count("connected to the cloud as node %s" % node) == 2

    for node, edge in edges.items():
        assert edge.stop() == 0, edge.text()[-4000:]
        cloudcore.wait_for("node %s disconnected: closed by peer" % node)
    assert cloudcore.stop() == 0, cloudcore.text()[-4000:]
    for p in procs:
        assert "Traceback" not in p.text(), p.text()[-4000:]

    for node in nodes:
        data = edge_dirs[node]
        assert (data / "edgecore.yaml").is_file() and (data / "edgecore.db").is_file()
        reset = kedge("reset", "--data-dir", str(data), "--force")
        assert reset.returncode == 0, reset.stderr
        assert sorted(p.name for p in data.rglob("*")) == [], reset.stdout
