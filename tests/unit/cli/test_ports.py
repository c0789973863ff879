"""Local port choice for `kedge join` and `kedge demo`: defaults kept when free, the next free port above
a taken one otherwise, never the same port twice in one choice."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kedge.cli import join, ports


def test_defaults_kept_when_free() -> None:
    wants = [ports.Want("a", "127.0.0.1", 1884), ports.Want("b", "127.0.0.1", 9060)]
    assert ports.choose(wants, lambda w, p: True) == {"a": 1884, "b": 9060}


def test_taken_default_moves_up_and_choices_do_not_collide() -> None:
    busy = {1884, 1885}
    wants = [ports.Want("a", "127.0.0.1", 1884), ports.Want("b", "127.0.0.1", 1886)]
    assert ports.choose(wants, lambda w, p: p not in busy) == {"a": 1886, "b": 1887}


def test_udp_and_tcp_do_not_collide() -> None:
    wants = [ports.Want("tcp", "", 10001), ports.Want("udp", "", 10001, udp=True)]
    assert ports.choose(wants, lambda w, p: True) == {"tcp": 10001, "udp": 10001}


def test_no_free_port_names_the_want() -> None:
    with pytest.raises(ports.NoFreePort, match=r"MQTT broker in 1884-2083 on 127\.0\.0\.1"):
        ports.choose([ports.Want("MQTT broker", "127.0.0.1", 1884)], lambda w, p: False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:1884", ("127.0.0.1", 1884)),
        ("127.0.0.1:10550", ("127.0.0.1", 10550)),
        ("[::1]:10351", ("::1", 10351)),
        ("ssl://:8883", ("127.0.0.1", 8883)),
    ],
)
def test_split_hostport(text: str, expected: tuple[str, int]) -> None:
    assert ports.split_hostport(text) == expected


def _args(data_dir: Path, **kw: object) -> argparse.Namespace:
    base = dict(
        hub_protocol="websocket", quicport=10001, certport=10002, edgenode_name="n1", runtime="process",
        mqtt_mode=0, data_dir=str(data_dir),
    )  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def test_join_moves_taken_local_ports_into_the_config(tmp_path: Path) -> None:
    paths = join.JoinPaths(tmp_path)
    cfg = join.edge_config(_args(tmp_path), paths, "10.0.0.1", 10000)
    busy = {1884, 10351}
    moved = join.choose_local_ports(cfg, lambda w, p: p not in busy)
    assert cfg.modules.event_bus.mqtt_server_internal == "tcp://127.0.0.1:1885"
    assert cfg.monitor_server.bind_address == "127.0.0.1:10352"
    assert cfg.modules.meta_manager.meta_server.server == "127.0.0.1:10550"
    assert cfg.modules.service_bus.port == 9060
    assert moved == [
        "MQTT broker (eventBus.mqttServerInternal): 1884 is in use, using 1885",
        "monitor server (monitorServer.bindAddress): 10351 is in use, using 10352",
    ]
    cfg.validate(source="test")


def test_join_keeps_a_nodes_pod_directories_in_its_own_data_dir(tmp_path: Path) -> None:
    cfg = join.edge_config(_args(tmp_path), join.JoinPaths(tmp_path), "10.0.0.1", 10000)
    edged = cfg.modules.edged
    assert edged.root_directory == str(tmp_path / "kubelet")
    assert edged.tailored_kubelet_config.pod_logs_dir == str(tmp_path / "pod-logs")
    assert cfg.modules.event_bus.mqtt_mode == 0
    default = join.edge_config(
        _args(Path(join.DEFAULT_DATA_DIR)), join.JoinPaths(Path(join.DEFAULT_DATA_DIR)), "h", 1
    )
    assert default.modules.edged.root_directory == "/var/lib/kubelet"
