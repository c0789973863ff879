"""The Router's REST endpoint on loopback, TLS included, with rules given directly to its table (the
informers and edges are covered end to end in tests/e2e/router): the status codes and messages a REST
client gets for each kind of bad request."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kedge.cloud.cloudhub.hub import CloudHub
from kedge.cloud.router.module import MAX_REQUEST_BODY, Router, RouterSettings
from kedge.cloud.router.table import EVENTBUS, REST
from tests.hubpki import HubPKI


class NoKube:
    """The Router only lists rules through it; these tests fill its table directly."""

    def rule_lister(self, plural: str) -> Any:
        async def never(**kwargs: Any) -> Any:
            raise AssertionError("no API server in this test")

        return never


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[tuple[Router, str, aiohttp.ClientSession]]:
    pki = HubPKI(tmp_path / "pki")
    settings = RouterSettings(
        "127.0.0.1",
        0,
        tls_cert_file=str(pki.server_cert_path),
        tls_private_key_file=str(pki.server_key_path),
    )
    r = Router(NoKube(), CloudHub(), settings)  # type: ignore[arg-type]
    r.table.set_endpoint({"metadata": {"name": "rest"}, "spec": {"ruleEndpointType": REST}})
    r.table.set_endpoint({"metadata": {"name": "bus"}, "spec": {"ruleEndpointType": EVENTBUS}})
    spec = {
        "source": "rest",
        "sourceResource": {"path": "/a"},
        "target": "bus",
        "targetResource": {"topic": "t"},
    }
    r.table.set_rule({"metadata": {"name": "r1", "namespace": "default"}, "spec": spec})
    port = await r.start_http()
    connector = aiohttp.TCPConnector(ssl=pki.client_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield r, "https://127.0.0.1:%d" % port, session
    assert r._runner is not None
    await r._runner.cleanup()


async def call(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, dict]:
    async with session.request(method, url, **kw) as resp:
        return resp.status, await resp.json()


async def test_bad_requests_get_the_documented_status_and_a_rule_status_entry(router) -> None:
    r, base, session = router
    status, body = await call(session, "POST", base + "/edge-1/default/a", data=b"x")
    assert status == 503 and "edge node edge-1 is not connected" in body["message"]
    status, body = await call(session, "POST", base + "/edge-1/default/zzz", data=b"x")
    assert status == 404 and "no rule for /zzz in namespace default" in body["message"]
    status, body = await call(session, "GET", base + "/edge-1")
    assert status == 404 and "/<node>/<namespace>/<path>" in body["message"]
    status, body = await call(
        session, "POST", base + "/edge-1/default/a", data=io.BytesIO(b"x" * (MAX_REQUEST_BODY + 1))
    )
    assert status == 413 and "12 MiB" in body["message"]
    cnt = r.counters[("default", "r1")]
    assert (cnt.success, cnt.fail) == (0, 2)  # the 503 and the 413 belong to rule r1
    assert "not connected" in cnt.errors[0] and "12 MiB" in cnt.errors[1]


async def test_plain_http_is_refused_on_a_tls_endpoint(router) -> None:
    _, base, _ = router
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(aiohttp.ClientError):
            async with plain.get(base.replace("https://", "http://") + "/edge-1/default/a") as resp:
                await resp.read()
