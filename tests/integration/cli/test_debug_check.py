"""`kedge debug check`: the pure decisions, and each probe against the real thing on loopback (a TLS
server with kedge's certificates, mosquitto, bound sockets, SQLite files)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path

import pytest

from kedge import config
from kedge.cli import debug
from kedge.cli.debug import FAIL, OK, WARN, Listener, Result
from kedge.cli.main import main
from kedge.security import pki
from tests.hubpki import HubPKI
from tests.mqttbrokers import MosquittoBroker, free_port, running

DAY = 86400.0

# -- pure logic --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skew", "status"), [(0.0, OK), (4.9, OK), (-5.5, WARN), (30.0, WARN), (61.0, FAIL), (-3600.0, FAIL)]
)
def test_classify_skew(skew: float, status: str) -> None:
    r = debug.classify_skew(skew, "https://cloud:10002")
    assert r.status == status
    assert bool(r.fix) == (status != OK)


def test_skew_direction_is_named() -> None:
    assert "behind" in debug.classify_skew(90.0, "c").detail
    assert "ahead of" in debug.classify_skew(-90.0, "c").detail


def test_exit_code_and_formats() -> None:
    ok = Result("database", OK, "fine")
    warn = Result("clock", WARN, "5.5 s off", "sync it")
    fail = Result("cloud connectivity", FAIL, "refused", "start cloudcore")
    assert debug.exit_code([ok, warn]) == 0
    assert debug.exit_code([ok, warn, fail]) == 1
    text = debug.format_text([ok, warn, fail]).splitlines()
    assert text[0].startswith("[ OK ] database") and "fine" in text[0]
    assert text[1].startswith("[WARN] clock") and text[2].strip() == "fix: sync it"
    assert text[3].startswith("[FAIL] cloud connectivity") and text[4].strip() == "fix: start cloudcore"
    assert json.loads(debug.format_json([ok, fail])) == [
        {"check": "database", "status": "OK", "detail": "fine", "fix": ""},
        {"check": "cloud connectivity", "status": "FAIL", "detail": "refused", "fix": "start cloudcore"},
    ]


def test_parse_http_date() -> None:
    assert debug.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777.0
    with pytest.raises(ValueError):
        debug.parse_http_date("yesterday")


def test_edge_listeners_follow_the_config() -> None:
    cfg = config.default_edgecore()
    assert [li.name for li in debug.edge_listeners(cfg)] == ["monitorServer.bindAddress"]  # mqttMode 2
    cfg.modules.event_bus.mqtt_mode = 1
    cfg.modules.meta_manager.meta_server.enable = True
    cfg.modules.service_bus.enable = True
    got = {li.name: (li.host, li.port) for li in debug.edge_listeners(cfg)}
    assert got == {
        "metaManager.metaServer.server": ("127.0.0.1", 10550),
        "eventBus.mqttServerInternal": ("127.0.0.1", 1884),
        "serviceBus.server": ("127.0.0.1", 9060),
        "monitorServer.bindAddress": ("127.0.0.1", 10351),
    }


def test_cloud_listeners_follow_the_config() -> None:
    cfg = config.default_cloudcore()
    cfg.modules.cloud_hub.quic.enable = True
    cfg.modules.router.enable = True
    got = {li.name: (li.port, li.proto) for li in debug.cloud_listeners(cfg)}
    assert got["cloudHub.websocket"] == (10000, "tcp")
    assert got["cloudHub.quic"] == (10001, "udp")
    assert got["cloudHub.https"] == (10002, "tcp")
    assert got["embeddedAPIServer"] == (6443, "tcp")
    assert got["router"] == (9443, "tcp")
    assert "commonConfig.monitorServer.bindAddress" in got


# -- certificates ------------------------------------------------------------------------------------


def _issue(hub: HubPKI, stem: str, *, days: int, now: dt.datetime) -> tuple[Path, Path]:
    key, cert = pki.issue_client_cert(
        hub.ca_key,
        hub.ca_cert,
        common_name="system:node:n1",
        organizations=("system:nodes",),
        days=days,
        now=now,
    )
    return hub._write(stem, key, cert)


def _by_check(results: list[Result]) -> dict[str, Result]:
    return {r.check: r for r in results}


def test_good_edge_certificates(tmp_path: Path) -> None:
    hub = HubPKI(tmp_path)
    cert, key = hub.node_cert("n1")
    got = _by_check(debug.check_edge_certificates(str(hub.ca_path), str(cert), str(key), time.time()))
    assert got["ca certificate"].status == OK
    assert got["edge certificate"].status == OK, got["edge certificate"]


def test_expired_and_expiring_edge_certificates(tmp_path: Path) -> None:
    hub = HubPKI(tmp_path)
    now = time.time()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    cert, key = _issue(hub, "expired", days=2, now=old)
    r = _by_check(debug.check_edge_certificates(str(hub.ca_path), str(cert), str(key), now))[
        "edge certificate"
    ]
    assert (r.status, "expired" in r.detail, "kedge join" in r.fix) == (FAIL, True, True)
    cert, key = _issue(hub, "expiring", days=13, now=old)
    r = _by_check(debug.check_edge_certificates(str(hub.ca_path), str(cert), str(key), now))[
        "edge certificate"
    ]
    assert r.status == WARN and "expires in" in r.detail and "rotateCertificates" in r.fix


def test_mismatched_key_and_foreign_ca(tmp_path: Path) -> None:
    hub = HubPKI(tmp_path / "a")
    other = HubPKI(tmp_path / "b")
    cert, _ = hub.node_cert("n1")
    _, other_key = other.node_cert("n1")
    r = _by_check(debug.check_edge_certificates(str(hub.ca_path), str(cert), str(other_key), time.time()))
    assert r["edge certificate"].status == FAIL and "is not the key of" in r["edge certificate"].detail
    cert, key = other.node_cert("n2")
    r = _by_check(debug.check_edge_certificates(str(hub.ca_path), str(cert), str(key), time.time()))
    assert r["edge certificate"].status == FAIL and "not signed by the CA" in r["edge certificate"].detail


def test_missing_and_garbled_certificates(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate\n")
    got = _by_check(
        debug.check_edge_certificates(
            str(garbage), str(tmp_path / "no.crt"), str(tmp_path / "no.key"), time.time()
        )
    )
    assert got["ca certificate"].status == FAIL
    assert got["edge certificate"].status == FAIL and "no.crt" in got["edge certificate"].detail
    assert all(r.fix for r in got.values())


def test_cloud_certificates(tmp_path: Path) -> None:
    cfg = config.default_cloudcore()
    cfg.data_dir = str(tmp_path)
    got = _by_check(debug.check_cloud_certificates(cfg, time.time()))
    assert {r.status for r in got.values()} == {OK}
    assert "absent" in got["ca certificate"].detail
    from kedge.cloud.cloudhub.certs import CertPaths

    paths = CertPaths.resolve(cfg.modules.cloud_hub, tmp_path)
    now = dt.datetime.now(dt.UTC)
    ca_key, ca = pki.create_ca("kedge-ca", now=now)
    key, cert = pki.issue_server_cert(
        ca_key, ca, common_name="KubeEdge", dns_names=[], ip_addresses=["127.0.0.1"], now=now
    )
    for path, data in [
        (paths.ca_cert_path, pki.cert_to_pem(ca)),
        (paths.ca_key_path, pki.key_to_pem(ca_key)),
        (paths.cert_path, pki.cert_to_pem(cert)),
        (paths.key_path, pki.key_to_pem(key)),
    ]:
        pki.write_pem(path, data)
    got = _by_check(debug.check_cloud_certificates(cfg, time.time()))
    assert got["ca certificate"].status == OK and got["cloudhub certificate"].status == OK
    got = _by_check(debug.check_cloud_certificates(cfg, time.time() + 400 * DAY))
    assert (
        got["cloudhub certificate"].status == FAIL and "restart cloudcore" in got["cloudhub certificate"].fix
    )


# -- clock -------------------------------------------------------------------------------------------


@asynccontextmanager
async def date_server(hub: HubPKI, offset: float) -> AsyncIterator[str]:
    """A TLS server with kedge's certificates that answers every request with Date = now + offset."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            date = formatdate(time.time() + offset, usegmt=True)
            writer.write(b"HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Length: 0\r\n\r\n" % date.encode())
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(
        handle, "127.0.0.1", 0, ssl=hub.server_context(require_client_cert=False)
    )
    try:
        yield "https://127.0.0.1:%d" % server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("offset", "status"), [(0.0, OK), (20.0, WARN), (-600.0, FAIL)])
async def test_clock_against_a_tls_server(tmp_path: Path, offset: float, status: str) -> None:
    hub = HubPKI(tmp_path)
    async with date_server(hub, offset) as url:
        r = await debug.check_clock(url, str(hub.ca_path))
    assert r.status == status, r
    assert "not verified" not in r.detail


async def test_clock_read_even_when_the_server_fails_verification(tmp_path: Path) -> None:
    hub, other = HubPKI(tmp_path / "a"), HubPKI(tmp_path / "b")
    async with date_server(hub, 120.0) as url:
        r = await debug.check_clock(url, str(other.ca_path))
    assert r.status == FAIL and "not verified" in r.detail


async def test_clock_with_cloud_unreachable_is_a_warning(tmp_path: Path) -> None:
    url = "https://127.0.0.1:%d" % free_port()
    r = await debug.check_clock(url, str(tmp_path / "missing-ca.crt"))
    assert r.status == WARN and "unreachable" in r.detail and url in r.detail
    assert (await debug.check_clock("", "x")).status == WARN


# -- ports, cloud connectivity -----------------------------------------------------------------------


async def test_a_running_core_is_recognised_by_its_monitor_server() -> None:
    from prometheus_client import CollectorRegistry

    from kedge.aio.statusserver import StatusServer

    server = StatusServer("127.0.0.1:0", CollectorRegistry(), lambda: None)
    port = await server.start()
    try:
        assert await asyncio.to_thread(debug.core_running, "127.0.0.1:%d" % port, 2.0)
    finally:
        await server.close()
    assert not await asyncio.to_thread(debug.core_running, "127.0.0.1:%d" % free_port(), 2.0)


def test_ports_free_in_use_and_foreign() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = debug.check_port(Listener("monitorServer.bindAddress", "127.0.0.1", port))
        assert r.status == WARN and "in use" in r.detail and r.fix
        r = debug.check_port(Listener("monitorServer.bindAddress", "127.0.0.1", port), "edgecore")
        assert r.status == OK and r.detail.endswith("in use by the running edgecore")
    assert debug.check_port(Listener("x", "127.0.0.1", free_port())).status == OK
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        r = debug.check_port(Listener("cloudHub.quic", "127.0.0.1", u.getsockname()[1], "udp"))
        assert r.status == WARN
    r = debug.check_port(Listener("router", "192.0.2.1", 9443))  # TEST-NET-1: not ours
    assert r.status == FAIL and "router" in r.fix


def _edge_cfg(server: str) -> config.EdgeCoreConfig:
    cfg = config.default_edgecore()
    cfg.modules.edge_hub.websocket.server = server
    return cfg


async def test_cloud_connectivity() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        ok = await debug.check_cloud_connectivity(_edge_cfg("127.0.0.1:%d" % s.getsockname()[1]))
    assert ok.status == OK
    r = await debug.check_cloud_connectivity(_edge_cfg("127.0.0.1:%d" % free_port()))
    assert r.status == FAIL and "cannot connect" in r.detail and r.fix
    assert (await debug.check_cloud_connectivity(_edge_cfg(""))).status == FAIL


# -- broker, database, containerd --------------------------------------------------------------------


def _bus_cfg(url: str) -> config.EdgeCoreConfig:
    cfg = config.default_edgecore()
    cfg.modules.event_bus.mqtt_mode = 2
    cfg.modules.event_bus.mqtt_server_external = url
    return cfg


async def test_broker(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path)
    async with running(broker):
        r = await debug.check_broker(_bus_cfg(broker.url))
    assert r is not None and r.status == OK, r
    r = await debug.check_broker(_bus_cfg("tcp://127.0.0.1:%d" % free_port()), timeout=2.0)
    assert r is not None and r.status == FAIL and "mosquitto" in r.fix
    cfg = _bus_cfg(broker.url)
    cfg.modules.event_bus.mqtt_mode = 0
    assert await debug.check_broker(cfg) is None  # internal broker only: edgecore starts it


def test_database(tmp_path: Path) -> None:
    db = tmp_path / "edgecore.db"
    r = debug.check_database(str(db))
    assert r.status == WARN and "created on first start" in r.detail
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
    conn.execute("INSERT INTO meta VALUES ('a', x'00')")
    conn.commit()
    assert debug.check_database(str(db)).status == OK  # while a writer holds it open
    conn.close()
    assert debug.check_database(str(db)).status == OK
    assert not db.with_name("edgecore.db-journal").exists()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 300)
    r = debug.check_database(str(bad))
    assert r.status == FAIL and "move" in r.fix


def _runtime_cfg(runtime: str, endpoint: str) -> config.EdgeCoreConfig:
    cfg = config.default_edgecore()
    cfg.modules.edged.runtime = runtime  # type: ignore[assignment]
    cfg.modules.edged.tailored_kubelet_config.container_runtime_endpoint = endpoint
    return cfg


async def test_containerd(tmp_path: Path) -> None:
    missing = "unix://%s" % (tmp_path / "containerd.sock")
    r = await debug.check_containerd(_runtime_cfg("auto", missing))
    assert r is not None and r.status == OK and "process runtime will be used" in r.detail
    r = await debug.check_containerd(_runtime_cfg("cri", missing))
    assert r is not None and r.status == FAIL and "ci/containerd.sh" in r.fix
    assert await debug.check_containerd(_runtime_cfg("process", missing)) is None

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    sock = tmp_path / "c.sock"
    server = await asyncio.start_unix_server(hang_up, path=str(sock))
    try:
        r = await debug.check_containerd(_runtime_cfg("auto", "unix://%s" % sock), timeout=2.0)
    finally:
        server.close()
        await server.wait_closed()
    assert r is not None and r.status == FAIL and "containerd" in r.fix


# -- the command -------------------------------------------------------------------------------------


def _healthy_edge(tmp_path: Path, cloud_url: str, cloud_port: int) -> Path:
    hub = HubPKI(tmp_path / "pki")
    cert, key = hub.node_cert("n1")
    cfg = config.default_edgecore()
    eh = cfg.modules.edge_hub
    eh.tls_ca_file, eh.tls_cert_file, eh.tls_private_key_file = str(hub.ca_path), str(cert), str(key)
    eh.http_server = cloud_url
    eh.websocket.server = "127.0.0.1:%d" % cloud_port
    cfg.modules.event_bus.mqtt_mode = 0
    cfg.modules.event_bus.mqtt_server_internal = "tcp://127.0.0.1:%d" % free_port()
    cfg.modules.edged.runtime = "process"
    cfg.monitor_server.bind_address = "127.0.0.1:%d" % free_port()
    cfg.database.data_source = str(tmp_path / "edgecore.db")
    path = tmp_path / "edgecore.yaml"
    path.write_text(config.dump_yaml(cfg))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """`kedge` in a thread: the command runs its own event loop, which must not be the test's."""
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(main, list(argv)).result()
    return code, capsys.readouterr().out


async def test_command_on_a_healthy_edge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = HubPKI(tmp_path / "pki")
    async with date_server(hub, 0.0) as url:
        port = int(url.rsplit(":", 1)[1])
        path = _healthy_edge(tmp_path, url, port)
        code, out = await asyncio.to_thread(
            _run, capsys, "debug", "check", "--config", str(path), "-o", "json"
        )
    results = {r["check"]: r for r in json.loads(out)}
    assert code == 0, out
    assert results["edge certificate"]["status"] == OK
    assert results["clock"]["status"] == OK
    assert results["cloud connectivity"]["status"] == OK
    assert results["database"]["status"] == WARN  # never started
    assert "containerd" not in results and "mqtt broker" not in results


def test_command_fails_and_says_how_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config.default_edgecore()
    cfg.modules.edge_hub.tls_ca_file = str(tmp_path / "ca.crt")
    cfg.modules.edge_hub.websocket.server = "127.0.0.1:%d" % free_port()
    cfg.modules.edge_hub.http_server = "https://127.0.0.1:%d" % free_port()
    cfg.modules.event_bus.mqtt_server_external = "tcp://127.0.0.1:%d" % free_port()
    cfg.modules.edged.runtime = "cri"
    cfg.modules.edged.tailored_kubelet_config.container_runtime_endpoint = "unix://%s" % (
        tmp_path / "none.sock"
    )
    cfg.monitor_server.bind_address = "127.0.0.1:%d" % free_port()
    cfg.database.data_source = str(tmp_path / "edgecore.db")
    path = tmp_path / "edgecore.yaml"
    path.write_text(config.dump_yaml(cfg))
    code, out = _run(capsys, "debug", "check", "--config", str(path), "--timeout", "2")
    assert code == 1
    assert "edge node, config: %s" % path in out
    for line in (
        "[FAIL] ca certificate",
        "[FAIL] containerd",
        "[FAIL] mqtt broker",
        "[FAIL] cloud connectivity",
    ):
        assert line in out, out
    assert "[WARN] clock" in out and "unreachable" in out
    assert "fix: install and start containerd (ci/containerd.sh)" in out


def test_role_is_inferred_from_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config.default_cloudcore()
    cfg.data_dir = str(tmp_path)
    for section in (cfg.modules.cloud_hub.websocket, cfg.modules.cloud_hub.https, cfg.embedded_api_server):
        section.port = free_port()
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:%d" % free_port()
    path = tmp_path / "cloudcore.yaml"
    path.write_text(config.dump_yaml(cfg))
    code, out = _run(capsys, "debug", "check", "--config", str(path), "-o", "json")
    assert code == 0, out
    checks = [r["check"] for r in json.loads(out)]
    assert "cloudhub certificate" in checks and "port cloudHub.websocket" in checks
    assert "clock" not in checks


def test_bad_config_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "edgecore.yaml"
    path.write_text("kind: EdgeCore\nmodules: [\n")
    assert main(["debug", "check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
