"""The mapper's handling of what the edge says, without a broker: membership starts, restarts and stops
device workers; deltas and twin/get results reach the right worker; bad messages are logged, not fatal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kedge.mapper.config import MapperConfig
from kedge.mapper.counter import CounterDriver
from kedge.mapper.runner import Mapper

pytestmark = pytest.mark.looptime

NODE = "n1"
N = "$hw/events/node/n1/"
D = "$hw/events/device/"


def entry(
    name: str, protocol: str | None = "virtualProtocol", offset: int = 0, expected: str | None = None
) -> dict:
    twins: dict[str, Any] = {"status": {"metadata": {"type": "string"}}}
    if expected is not None:
        twins["status"]["expected"] = {"value": expected}
    out: dict[str, Any] = {
        "id": "default/" + name,
        "name": name,
        "twins": twins,
        "properties": [{"name": "status", "type": "string", "visitors": {"configData": {"offset": offset}}}],
    }
    if protocol is not None:
        out["protocol"] = {"protocolName": protocol}
    return out


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.fixture
async def mapper():
    m = Mapper(MapperConfig(node=NODE, protocol="virtualProtocol"), CounterDriver)
    try:
        yield m
    finally:
        await m._stop_all()


async def test_membership_starts_restarts_and_stops_workers(
    mapper: Mapper, caplog: pytest.LogCaptureFixture
) -> None:
    devices = [entry("a"), entry("b", protocol="modbus"), entry("c", protocol=None), entry("d", offset=1)]
    await mapper.handle(N + "membership/get/result", raw({"event_id": "e", "devices": devices}))
    assert sorted(mapper.workers) == ["default/a", "default/c", "default/d"]
    a = mapper.workers["default/a"]

    # a refresh with only new twin values keeps the workers; a changed spec restarts that one
    refresh = [entry("a", expected="ON"), entry("c", protocol=None), entry("d", offset=2)]
    await mapper.handle(N + "membership/get/result", raw({"devices": refresh}))
    assert mapper.workers["default/a"] is a
    assert sorted(mapper.workers) == ["default/a", "default/c", "default/d"]
    assert mapper.workers["default/d"].entry.prop("status").visitor_config == {"offset": 2}

    # updated: a device that changed protocol leaves this mapper; removed: stopped
    await mapper.handle(D + "default/a/updated", raw({"device": entry("a", protocol="opcua")}))
    await mapper.handle(
        N + "membership/updated",
        raw({"added_devices": [entry("e")], "removed_devices": [{"id": "default/c"}]}),
    )
    assert sorted(mapper.workers) == ["default/d", "default/e"]
    # a full list without d stops d
    await mapper.handle(N + "membership/get/result", raw({"devices": [entry("e")]}))
    assert list(mapper.workers) == ["default/e"]
    assert a._task is None  # stopped, its driver closed

    # what the mapper cannot use is logged and skipped
    await mapper.handle(N + "membership/get/result", raw({"devices": [entry("e"), {"id": ""}]}))
    await mapper.handle(N + "membership/updated", b"{broken")
    await mapper.handle(D + "default/e/updated", raw({"device": entry("x")}))
    await mapper.handle(N + "membership/get/result", raw({"code": 500, "reason": "database is locked"}))
    assert list(mapper.workers) == ["default/e"]
    text = caplog.text
    assert "skipping a device the edge listed: device entry without a usable id" in text
    assert "malformed JSON" in text and "the entry is for device default/x" in text
    assert "the edge answered 500: database is locked" in text


async def test_deltas_and_get_results_reach_their_worker(mapper: Mapper) -> None:
    await mapper.handle(N + "membership/get/result", raw({"devices": [entry("a"), entry("b")]}))
    a, b = mapper.workers["default/a"], mapper.workers["default/b"]
    await mapper.handle(D + "default/a/twin/update/delta", raw({"twin": {}, "delta": {"status": "ON"}}))
    await mapper.handle(D + "default/zz/twin/update/delta", raw({"delta": {"status": "ON"}}))  # not ours
    assert a.desired == {"status": "ON"} and b.desired == {}
    b._get_event = "ev-b"  # as if b had asked
    await mapper.handle(
        D + "default/b/twin/get/result",
        raw({"event_id": "other", "code": 200, "twin": entry("b", expected="ON")["twins"]}),
    )
    assert b.desired == {}
    await mapper.handle(
        D + "default/b/twin/get/result",
        raw({"event_id": "ev-b", "code": 200, "twin": entry("b", expected="ON")["twins"]}),
    )
    assert b.desired == {"status": "ON"} and b._get_event is None
    b._get_event = "ev-2"
    await mapper.handle(
        D + "default/b/twin/get/result", raw({"event_id": "ev-2", "code": 404, "reason": "gone"})
    )
    assert b._get_event is None and b.desired == {"status": "ON"}


async def test_other_topics_are_ignored(mapper: Mapper) -> None:
    await mapper.handle("$hw/events/node/n2/membership/get/result", raw({"devices": [entry("a")]}))
    await mapper.handle("$hw/events/device/default/a/twin/update", raw({"twin": {}}))
    await mapper.handle("some/app/topic", b"\x00")
    assert mapper.workers == {}
    assert await mapper.publish("t", b"x") is False  # no broker: dropped, not raised
