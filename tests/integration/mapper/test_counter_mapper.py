"""The virtual counter mapper over mosquitto, the edge played by DeviceTwin's engine: the KubeEdge counter
demo's flow (OFF reports a constant count, ON makes it rise, OFF stops it), device membership changes,
and a broker restart in the middle."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kedge.mapper.config import build_config
from kedge.mapper.counter import CounterDriver
from kedge.mapper.runner import Mapper
from tests.hubpki import HubPKI
from tests.integration.mapper.conftest import (
    NODE,
    EdgePeer,
    Mosquitto,
    device,
    fast_mapper,
    free_port,
    model,
    with_desired,
)

pytestmark = pytest.mark.system

ID = "default/counter"
CYCLE_NS = 200_000_000  # 0.2 s: the count changes once a second, the reports show it 5 times
MODEL = model("counter-model", [{"name": "status", "type": "STRING", "accessMode": "ReadWrite"}])


def counter_device(protocol: dict[str, Any] | None, desired: str = "OFF", rv: int = 1) -> dict[str, Any]:
    props = [
        {"name": "status", "desired": {"value": desired}, "collectCycle": CYCLE_NS, "reportCycle": CYCLE_NS}
    ]
    return device("counter", "counter-model", props, protocol, rv)


def counts(peer: EdgePeer) -> list[int]:
    return [int(v) for v in peer.reports(ID, "status")]


async def counter_flow(peer: EdgePeer, broker_url: str, run_mapper, protocol: dict[str, Any] | None) -> None:
    dev = counter_device(protocol)
    await peer.add(MODEL, dev)
    running = run_mapper(fast_mapper(broker_url, CounterDriver))
    await peer.wait_for(lambda: peer.count("membership/get") >= 1, "membership/get")
    await peer.wait_for(lambda: "online" in peer.states(ID), "the counter online")
    await peer.wait_for(lambda: len(counts(peer)) >= 3, "reports while OFF")
    assert set(counts(peer)) == {0}
    assert peer.reported(ID, "status") == "0"  # the edge stored the report

    await peer.update(with_desired(dev, {"status": "ON"}, rv=2))  # the cloud sets ON: the edge sends a delta
    await peer.wait_for(lambda: max(counts(peer)) >= 3, "the count to rise", timeout=10)
    rising = counts(peer)
    assert rising == sorted(rising), "the count went down: %s" % rising
    assert len(set(rising)) >= 4  # 0, 1, 2, 3: one step per second

    await peer.update(with_desired(dev, {"status": "OFF"}, rv=3))
    await asyncio.sleep(0.5)  # the delta is applied and read back within a cycle
    stopped = peer.reported(ID, "status")
    n = len(counts(peer))
    await asyncio.sleep(2.2)
    assert len(counts(peer)) >= n + 5, "the mapper stopped reporting"
    assert set(counts(peer)[n:]) == {int(stopped)}, "the count kept rising after OFF"
    assert peer.errors == []
    assert running.mapper.workers.keys() == {ID}


@pytest.mark.parametrize(
    "protocol",
    [{"protocolName": "virtualProtocol"}, None],
    ids=["virtualProtocol", "no-protocol-v1alpha2-example"],
)
async def test_counter_on_off(peer: EdgePeer, mosquitto: Mosquitto, run_mapper, protocol) -> None:
    await counter_flow(peer, mosquitto.url, run_mapper, protocol)


async def test_counter_on_off_with_the_embedded_broker(run_mapper) -> None:
    """edgecore's internal mode: its amqtt broker, which takes KubeEdge's `$hw/...` publishes."""
    from kedge.edge.eventbus.broker import EmbeddedBroker

    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    await broker.start()
    peer = EdgePeer(port)
    try:
        await peer.connect()
        await counter_flow(peer, "tcp://127.0.0.1:%d" % port, run_mapper, {"protocolName": "virtualProtocol"})
    finally:
        await peer.disconnect()
        for r in run_mapper.running:
            await r.close()
        await broker.stop()


async def test_devices_come_and_go(peer: EdgePeer, mosquitto: Mosquitto, run_mapper) -> None:
    running = run_mapper(fast_mapper(mosquitto.url, CounterDriver))
    await peer.wait_for(lambda: peer.count("membership/get") >= 1, "membership/get")
    await asyncio.sleep(0.3)
    assert running.mapper.workers == {}
    # a device of another protocol is not this mapper's
    other = device("plc", "counter-model", [{"name": "status"}], {"protocolName": "modbus"})
    await peer.add(MODEL, other)
    dev = counter_device({"protocolName": "virtualProtocol"}, desired="ON")
    await peer.add(MODEL, dev)  # membership/updated: added
    await peer.wait_for(lambda: counts(peer) and max(counts(peer)) >= 1, "the new device counting")
    assert running.mapper.workers.keys() == {ID}
    assert peer.states("default/plc") == []

    await peer.remove(ID)  # membership/updated: removed
    await peer.wait_for(lambda: not running.mapper.workers, "the worker stopped")
    n = len(counts(peer))
    await asyncio.sleep(0.6)
    assert len(counts(peer)) == n


async def test_broker_restart(peer: EdgePeer, mosquitto: Mosquitto, run_mapper) -> None:
    dev = counter_device({"protocolName": "virtualProtocol"}, desired="ON")
    await peer.add(MODEL, dev)
    running = run_mapper(fast_mapper(mosquitto.url, CounterDriver))
    await peer.wait_for(lambda: counts(peer) and max(counts(peer)) >= 1, "the counter running")
    assert running.mapper.sessions == 1

    await peer.disconnect()
    await mosquitto.stop()
    await asyncio.sleep(1.0)  # the mapper retries against a closed port meanwhile
    before = max(counts(peer))
    peer.requests.clear()
    await mosquitto.start()
    await peer.connect()
    # the mapper reconnects, resubscribes, asks for the membership and its twins again, reports on
    await peer.wait_for(lambda: peer.count("membership/get") >= 1, "membership/get after the restart")
    await peer.wait_for(lambda: peer.count("twin/get") >= 1, "twin/get after the restart")
    await peer.wait_for(lambda: counts(peer) and max(counts(peer)) > before + 1, "reports after the restart")
    assert "online" in peer.states(ID)
    assert running.mapper.sessions == 2
    assert list(running.mapper.workers) == [ID]  # the same worker: the counter kept its count
    assert min(counts(peer)) >= before
    await peer.update(with_desired(dev, {"status": "OFF"}, rv=2))  # deltas flow on the new session
    await asyncio.sleep(0.5)
    stopped = peer.reported(ID, "status")
    await asyncio.sleep(1.2)
    assert peer.reported(ID, "status") == stopped
    assert peer.errors == []


async def test_counter_over_mutual_tls(tmp_path: Path, run_mapper) -> None:
    """The broker requires a client certificate: the mapper connects with its tls files over ssl://."""
    pki = HubPKI(tmp_path / "pki")
    broker = Mosquitto(tmp_path, tls=pki)
    await broker.start()
    peer = EdgePeer(broker.port, ssl=pki.client_context(pki.client_cert("edge")))
    try:
        await peer.connect()
        await peer.add(MODEL, counter_device({"protocolName": "virtualProtocol"}, desired="ON"))
        cert, key = pki.client_cert("mapper")
        doc = {
            "node": NODE,
            "broker": broker.url,
            "tls": {"ca": str(pki.ca_path), "cert": str(cert), "key": str(key)},
        }
        cfg = build_config(doc, default_protocol=CounterDriver.protocol)
        assert cfg.endpoint.tls
        mapper = Mapper(cfg, CounterDriver, membership_retry=0.2)
        run_mapper(mapper)
        await peer.wait_for(lambda: counts(peer) and max(counts(peer)) >= 1, "the count over TLS")
        assert peer.errors == []
    finally:
        await peer.disconnect()
        await broker.stop()
