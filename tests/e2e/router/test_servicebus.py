"""KubeEdge's rest → servicebus walkthrough and the servicebus → rest path, with real processes: curl →
cloudcore's REST endpoint → the edge's ServiceBus → an HTTP app on the edge's service_port, and back with
its status, headers and body; an edge app POSTs to ServiceBus (127.0.0.1:<port>) and reaches a cloud URL.
Bad input: the target app down, a URL no rule allows, a malformed request."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.e2e.devices.conftest import Devices, edge_and_cloud
from tests.e2e.procs import Proc, free_port, until
from tests.e2e.router.test_walkthroughs import curl, rule_status

pytestmark = [pytest.mark.system, pytest.mark.slow]

OBJECTS = """\
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-rest, labels: {description: test}}
spec: {ruleEndpointType: rest, properties: {}}
---
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-servicebus, labels: {description: test}}
spec:
  ruleEndpointType: servicebus
  properties: {service_port: "%(service_port)d"}
---
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule-rest-servicebus, labels: {description: test}}
spec:
  source: my-rest
  sourceResource: {path: /source}
  target: my-servicebus
  targetResource: {path: /target}
---
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule-servicebus-rest, labels: {description: test}}
spec:
  source: my-servicebus
  sourceResource: {target_url: "%(cloud_url)s", node_name: %(node)s}
  target: my-rest
  targetResource: {resource: "%(cloud_url)s"}
"""


class App(http.server.BaseHTTPRequestHandler):
    """The HTTP app: answers with what it got (method, path, a header, the body) and status 201."""

    def _answer(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "x-test": self.headers.get("X-Test"),
                "body": self.rfile.read(n).decode(),
            }
        ).encode()
        self.send_response(201)
        self.send_header("X-App", "edge-app")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def serve() -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(params=["internal"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, procs: list[Proc]
) -> Iterator[tuple[Devices, int, int]]:
    require_binary("curl")
    router, servicebus = free_port(), free_port()
    with edge_and_cloud(request.param, tmp_path, procs, router_port=router, servicebus_port=servicebus) as d:
        yield d, router, servicebus


def test_rest_to_servicebus_and_back(env: tuple[Devices, int, int]) -> None:
    d, router, servicebus = env
    app, cloud = serve(), serve()
    try:
        d.start_edge()
        d.wait_node_ready()
        cloud_url = "http://127.0.0.1:%d/from-edge" % cloud.server_address[1]
        d.apply_yaml(
            OBJECTS % {"service_port": app.server_address[1], "cloud_url": cloud_url, "node": d.node}
        )
        url = "http://127.0.0.1:%d/%s/default/source/x?q=1" % (router, d.node)

        # rest → servicebus: method, path (rule path + suffix + query), header and body reach the app;
        # its status, header and body come back
        def call() -> tuple[int, str]:
            return curl("-i", "-X", "PUT", "-H", "X-Test: yes", "-d", "hello", url)

        status, out = until(lambda: (r := call())[0] == 201 and r, 30, "the app reached")
        head, _, body = out.partition("\n\n")  # curl -i; text mode turned CRLF into LF
        assert "X-App: edge-app" in head
        assert json.loads(body) == {
            "method": "PUT",
            "path": "/target/x?q=1",
            "x-test": "yes",
            "body": "hello",
        }
        until(lambda: rule_status(d, "my-rule-rest-servicebus").get("successMessages", 0) >= 1, 30, "counted")

        # servicebus → rest: an edge app asks ServiceBus for the cloud URL a rule allows
        sb = "http://127.0.0.1:%d/" % servicebus
        request = json.dumps({"method": "POST", "targetURL": cloud_url, "payload": {"from": "edge"}})
        status, body = until(
            lambda: (r := curl("-X", "POST", "-d", request, sb))[0] == 201 and r, 30, "the cloud URL reached"
        )
        got = json.loads(body)
        assert (
            got["method"] == "POST"
            and got["path"] == "/from-edge"
            and json.loads(got["body"]) == {"from": "edge"}
        )

        # a URL no rule allows, a malformed request
        other = json.dumps({"method": "GET", "targetURL": "http://127.0.0.1:1/nope", "payload": ""})
        status, body = curl("-X", "POST", "-d", other, sb)
        assert status == 403, body
        status, body = curl("-X", "POST", "-d", "{not json", sb)
        assert status == 400, body

        # the app goes away: 502 with the reason, and a Rule status entry
        app.shutdown()
        app.server_close()
        status, body = curl(url)
        assert status == 502, body
        st = until(
            lambda: (s := rule_status(d, "my-rule-rest-servicebus")).get("failMessages", 0) >= 1 and s,
            30,
            "the failure counted",
        )
        assert st["errors"]
    finally:
        for s in (app, cloud):
            s.shutdown()
            s.server_close()
