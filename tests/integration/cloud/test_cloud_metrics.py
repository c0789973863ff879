"""cloudcore's /metrics (parsed by prometheus_client's own text parser), /healthz and /readyz, on a real
cloudcore with the embedded API server, after some traffic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kedge.cloud.app import start_cloudcore
from kedge.config.cloudcore import CloudCoreConfig


async def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method.encode(), path.encode()))
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_metrics_health_and_readiness(tmp_path: Path) -> None:
    cfg = CloudCoreConfig()
    cfg.embedded_api_server.port = 0
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:0"
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = "127.0.0.1"
    hub.websocket.port = hub.https.port = 0
    hub.quic.enable = False
    cfg.modules.router.enable = True
    cfg.modules.router.address = "127.0.0.1"
    cfg.modules.router.port = 0
    core = await start_cloudcore(cfg, tmp_path / "cloud")
    try:
        port = core.ports["metrics"]
        assert await get(port, "/healthz") == (200, b"ok\n")
        for _ in range(200):  # ready once every controller has listed
            status, body = await get(port, "/readyz")
            if status == 200:
                break
            assert status == 503 and b"waiting for" in body
            await asyncio.sleep(0.05)
        assert status == 200
        status, text = await get(port, "/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text.decode())}
        assert families["kedge_cloudhub_connected_nodes"].samples[0].value == 0
        events = {s.labels["event"] for s in families["kedge_cloudhub_messages"].samples}
        assert {"delivered", "routed", "denied", "dropped_full"} <= events
        for name in (
            "kedge_cloudhub_queued_messages",
            "kedge_cloudhub_inflight_messages",
            "kedge_cloudhub_resends",
        ):
            assert name in families
        assert "kedge_devicecontroller_events" in families
        assert (await get(port, "/metrics", "HEAD"))[1] == b""
        assert (await get(port, "/nothing"))[0] == 404
        assert (await get(port, "/metrics", "POST"))[0] == 405
    finally:
        core.hub.close_all("test done")
        await core.stop()
