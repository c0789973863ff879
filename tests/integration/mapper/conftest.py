"""Mappers against a real MQTT broker on loopback, with the edge's side played by DeviceTwin's own engine.

`EdgePeer` is an MQTT client that feeds every request a mapper publishes (membership/get, twin/get,
twin/update, state/update) to kedge.edge.devicetwin's TwinEngine and publishes what the engine answers,
so the mapper talks to the same rules edgecore applies (types checked, versions, deltas), minus SQLite.
"""

from __future__ import annotations

import asyncio
import copy
import getpass
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from ssl import SSLContext
from typing import Any

import pytest

from kedge.aio.backoff import Backoff
from kedge.edge.devicetwin.engine import Effects, TwinEngine
from kedge.mapper.config import MapperConfig
from kedge.mapper.driver import Driver
from kedge.mapper.runner import Mapper
from kedge.transport.mqtt_client import MqttClient, MqttError
from tests.conftest import require_binary
from tests.hubpki import HubPKI

NODE = "edge-mapper"
WAIT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ms() -> int:
    return int(time.time() * 1000)


class Mosquitto:
    """A private mosquitto on 127.0.0.1:port that can be stopped and started again on the same port."""

    def __init__(self, tmp_path: Path, port: int | None = None, tls: HubPKI | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.conf = tmp_path / ("mosquitto-%d.conf" % self.port)
        text = (
            "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"
            "log_dest stderr\nlog_type error\n" % self.port
        )
        if tls is not None:  # mutual TLS: clients need a certificate of the test CA
            # as root mosquitto drops to user mosquitto, who cannot read the test's private directory
            text += "user %s\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n" % (
                getpass.getuser(),
                tls.ca_path,
                tls.server_cert_path,
                tls.server_key_path,
            )
        self.conf.write_text(text)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d" % ("ssl" if self.tls else "tcp", self.port)

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            require_binary("mosquitto"), "-c", str(self.conf), stdin=asyncio.subprocess.DEVNULL
        )
        for _ in range(250):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            w.close()
            await w.wait_closed()
            return
        raise RuntimeError("mosquitto did not listen on %d" % self.port)

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await self._proc.wait()
            self._proc = None


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    require_binary("mosquitto")
    b = Mosquitto(tmp_path)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


class EdgePeer:
    REQUESTS = (
        "$hw/events/node/%s/membership/get" % NODE,
        "$hw/events/device/+/+/twin/update",
        "$hw/events/device/+/+/twin/get",
        "$hw/events/device/+/+/state/update",
    )

    def __init__(self, port: int, ssl: SSLContext | None = None) -> None:
        self.port = port
        self.ssl = ssl
        self.engine = TwinEngine(NODE)
        self.client: MqttClient | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, dict[str, Any]]] = []  # error results the engine gave the mapper
        self.changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            self.client = MqttClient(
                "127.0.0.1", self.port, client_id="edge-peer-%d" % id(self), ssl=self.ssl
            )
            try:
                await self.client.connect()
                break
            except (MqttError, OSError):
                await self.client.close()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        await self.client.subscribe([(t, 1) for t in self.REQUESTS])
        self._reader = asyncio.create_task(self._read(self.client))

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _read(self, client: MqttClient) -> None:
        while True:
            try:
                topic, payload, _ = await client.get_message()
            except MqttError:
                return
            self.requests.append((topic, json.loads(payload)))
            fx = Effects()
            self.engine.request(topic, payload, now_ms(), fx)
            for t, body in fx.publishes:
                if t.endswith("/result") and "code" in body and body["code"] != 200:
                    self.errors.append((t, body))
            await self._publish(fx)
            self.changed.set()

    async def _publish(self, fx: Effects) -> None:
        assert self.client is not None
        for topic, body in fx.publishes:
            await self.client.publish(topic, json.dumps(body), qos=1)

    async def add(self, model: dict[str, Any], device: dict[str, Any]) -> None:
        fx = Effects()
        self.engine.model_changed(model, now_ms(), fx)
        self.engine.device_changed(device, now_ms(), fx)
        if self.client is not None:
            await self._publish(fx)

    async def update(self, device: dict[str, Any]) -> None:
        """The cloud changed the Device (desired values, spec): the engine announces it (delta, updated)."""
        fx = Effects()
        self.engine.device_changed(device, now_ms(), fx)
        await self._publish(fx)

    async def remove(self, device_id: str) -> None:
        fx = Effects()
        self.engine.device_deleted(device_id, now_ms(), fx)
        await self._publish(fx)

    # -- what the mapper said --

    def reports(self, device_id: str, prop: str) -> list[str]:
        topic = "$hw/events/device/%s/twin/update" % device_id
        return [
            b["twin"][prop]["actual"]["value"]
            for t, b in self.requests
            if t == topic and prop in b.get("twin", {})
        ]

    def states(self, device_id: str) -> list[str]:
        topic = "$hw/events/device/%s/state/update" % device_id
        return [b["state"] for t, b in self.requests if t == topic]

    def count(self, suffix: str) -> int:
        return sum(1 for t, _ in self.requests if t.endswith(suffix))

    def reported(self, device_id: str, prop: str) -> str | None:
        rec = self.engine.records.get(device_id)
        twin = rec.twins.get(prop) if rec is not None else None
        return None if twin is None or twin.actual is None else twin.actual.value

    async def wait_for(self, cond: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = cond()
            if value:
                return value
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                pytest.fail(
                    "timed out after %g s waiting for %s; mapper said: %s"
                    % (timeout, what, self.requests[-8:])
                )
            self.changed.clear()
            try:
                async with asyncio.timeout(min(left, 0.1)):
                    await self.changed.wait()
            except TimeoutError:
                pass


@pytest.fixture
async def peer(mosquitto: Mosquitto) -> AsyncIterator[EdgePeer]:
    p = EdgePeer(mosquitto.port)
    await p.connect()
    try:
        yield p
    finally:
        await p.disconnect()


class RunningMapper:
    def __init__(self, mapper: Mapper) -> None:
        self.mapper = mapper
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(mapper.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        if not self.task.done():
            async with asyncio.timeout(WAIT):
                await self.task


def fast_mapper(broker_url: str, driver: type[Driver], protocol: str | None = None, **kw: Any) -> Mapper:
    """A mapper with short retry delays, so the tests see reconnects quickly."""
    cfg = MapperConfig(node=NODE, protocol=protocol or driver.protocol, broker=broker_url)
    return Mapper(
        cfg,
        driver,
        mqtt_backoff=Backoff(0.1, 2.0, 0.5, jitter=0),
        device_backoff=lambda: Backoff(0.1, 2.0, 0.5, jitter=0),
        membership_retry=0.2,
        get_retry=1.0,
        **kw,
    )


class Mappers:
    """Starts mappers as tasks; the fixture stops those still running at the end."""

    def __init__(self) -> None:
        self.running: list[RunningMapper] = []

    def __call__(self, mapper: Mapper) -> RunningMapper:
        r = RunningMapper(mapper)
        self.running.append(r)
        return r


@pytest.fixture
async def run_mapper() -> AsyncIterator[Mappers]:
    mappers = Mappers()
    try:
        yield mappers
    finally:
        for r in mappers.running:
            await r.close()


def model(name: str, properties: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "DeviceModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"properties": properties},
    }


def device(
    name: str,
    model_name: str,
    properties: list[dict[str, Any]],
    protocol: dict[str, Any] | None,
    rv: int = 1,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "deviceModelRef": {"name": model_name},
        "nodeName": NODE,
        "properties": properties,
    }
    if protocol is not None:
        spec["protocol"] = protocol
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)},
        "spec": spec,
    }


def with_desired(dev: dict[str, Any], values: dict[str, str], rv: int) -> dict[str, Any]:
    """The Device after the cloud set desired values (a newer resourceVersion)."""
    out = copy.deepcopy(dev)
    out["metadata"]["resourceVersion"] = str(rv)
    for p in out["spec"]["properties"]:
        if p["name"] in values:
            p["desired"] = {"value": values[p["name"]]}
    return out
