"""KubeEdge's Router walkthroughs with real processes and real clients, on both brokers: curl → cloudcore's
REST endpoint → the edge's MQTT broker (mosquitto_sub receives it); mosquitto_pub on the edge → a cloud
HTTP server receives the body. Bad requests get the documented status and a Rule status entry."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.e2e.devices.conftest import Devices, edge_and_cloud
from tests.e2e.procs import Proc, free_port, until

pytestmark = [pytest.mark.system, pytest.mark.slow]

ENDPOINTS = """\
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-rest, labels: {description: test}}
spec: {ruleEndpointType: rest, properties: {}}
---
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-eventbus, labels: {description: test}}
spec: {ruleEndpointType: eventbus, properties: {}}
"""

REST_TO_EVENTBUS = """\
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule, labels: {description: test}}
spec:
  source: my-rest
  sourceResource: {path: /a}
  target: my-eventbus
  targetResource: {topic: test}
"""

EVENTBUS_TO_REST = """\
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule-eventbus-rest, labels: {description: test}}
spec:
  source: my-eventbus
  sourceResource: {topic: test, node_name: %s}
  target: my-rest
  targetResource: {resource: "http://127.0.0.1:%d/b"}
"""


@pytest.fixture(params=["internal", "external"])
def env(request: pytest.FixtureRequest, tmp_path: Path, procs: list[Proc]) -> Iterator[tuple[Devices, int]]:
    require_binary("curl")
    require_binary("mosquitto_sub")
    port = free_port()
    with edge_and_cloud(request.param, tmp_path, procs, router_port=port) as d:
        yield d, port


def curl(*args: str) -> tuple[int, str]:
    """(HTTP status, body) of one curl call."""
    out = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=60
    )
    body, _, status = out.stdout.rpartition("\n")
    return int(status or 0), body


def rule_status(d: Devices, name: str) -> dict:
    return (d.get("rule", name) or {}).get("status") or {}


def test_rest_to_eventbus(env: tuple[Devices, int]) -> None:
    d, port = env
    d.start_edge()
    d.wait_node_ready()
    d.apply_yaml(ENDPOINTS)
    d.apply_yaml(REST_TO_EVENTBUS)
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(d.broker.port), "-t", "test", "-C", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = "http://127.0.0.1:%d/%s/default/a" % (port, d.node)
        # the router learns the rule from its informer: until then the path is unknown (404)
        until(lambda: curl("-X", "POST", "-d", '{"message":"123"}', url)[0] == 200, 30, "the rule in use")
        out, _ = sub.communicate(timeout=30)
        assert out.strip() == '{"message":"123"}'
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    until(lambda: rule_status(d, "my-rule").get("successMessages", 0) >= 1, 30, "the success counted")

    # bad input: the documented status, a clear message, and a Rule status entry
    status, body = curl("-X", "POST", "-d", "x", "http://127.0.0.1:%d/no-such-node/default/a" % port)
    assert status == 503 and "no-such-node" in body
    status, body = curl("http://127.0.0.1:%d/%s/default/a" % (port, d.node))
    assert status == 405 and "POST" in body
    status, body = curl("-X", "POST", "-d", "x", "http://127.0.0.1:%d/%s/default/nothing" % (port, d.node))
    assert status == 404 and "no rule" in body
    big = d.tmp / "big.bin"
    big.write_bytes(b"x" * ((12 << 20) + 1))
    status, _ = curl("-X", "POST", "--data-binary", "@%s" % big, url)
    assert status == 413

    def failures() -> dict:
        st = rule_status(d, "my-rule")
        return st if st.get("failMessages", 0) >= 3 else {}

    st = until(failures, 30, "the failures counted")
    assert any("no-such-node" in e for e in st["errors"])


class Recorder(http.server.BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.bodies.append((self.path, self.rfile.read(n)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_eventbus_to_rest(env: tuple[Devices, int]) -> None:
    d, _ = env
    require_binary("mosquitto_pub")
    Recorder.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        d.start_edge()
        d.wait_node_ready()
        d.apply_yaml(ENDPOINTS)
        d.apply_yaml(EVENTBUS_TO_REST % (d.node, server.server_address[1]))

        def delivered() -> bool:
            subprocess.run(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.broker.port), "-t", "default/test",
                 "-m", json.dumps({"edge": "hello"})],
                check=True, timeout=30,
            )  # fmt: skip
            return bool(Recorder.bodies)

        # the edge subscribes default/test once the router has told it: publish until the cloud gets one
        until(delivered, 30, "an edge message at the cloud URL", every=1.0)
        path, body = Recorder.bodies[0]
        assert path == "/b" and json.loads(body) == {"edge": "hello"}
        st = until(lambda: rule_status(d, "my-rule-eventbus-rest"), 30, "the rule status")
        assert st.get("successMessages", 0) >= 1
    finally:
        server.shutdown()
        server.server_close()


def test_eventbus_to_rest_uploads_wait_while_the_cloud_is_away(tmp_path: Path, procs: list[Proc]) -> None:
    """The cloud stops; messages published on the edge wait in its outbox and reach the cloud URL after
    the cloud returns, in the order they were published."""
    require_binary("mosquitto_pub")
    Recorder.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with edge_and_cloud("external", tmp_path, procs, router_port=free_port()) as d:
            d.start_edge()
            d.wait_node_ready()
            d.apply_yaml(ENDPOINTS)
            d.apply_yaml(EVENTBUS_TO_REST % (d.node, server.server_address[1]))

            def publish(body: str) -> None:
                subprocess.run(
                    ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.broker.port), "-q", "1",
                     "-t", "default/test", "-m", body],
                    check=True, timeout=30,
                )  # fmt: skip

            def online() -> bool:
                publish("online")
                return bool(Recorder.bodies)

            until(online, 30, "the subscription in place", every=1.0)
            d.stop_cloud()
            for i in range(5):
                publish("offline-%d" % i)
            d.start_cloud()

            def got() -> list[bytes]:
                return [b for _, b in Recorder.bodies if b.startswith(b"offline-")]

            until(lambda: len(got()) >= 5, 60, "the offline messages at the cloud URL")
            assert got() == [b"offline-%d" % i for i in range(5)]
    finally:
        server.shutdown()
        server.server_close()
