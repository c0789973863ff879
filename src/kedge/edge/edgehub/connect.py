"""Builds EdgeHub's connector from edgecore.yaml: WebSocket or QUIC, with the edge's certificate.

The TLS material is re-read on every attempt, so a rotated certificate is used by the next connection.
The QUIC client (aioquic) is imported only when QUIC is chosen: the edge pays for what it uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from kedge.edge.edgehub.hub import Connector, EdgeSession
from kedge.security.tls import client_ssl_context
from kedge.transport.link import Link

WEBSOCKET = "websocket"
QUIC = "quic"


def split_server(server: str, what: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) → (host, port), with an error naming the config key."""
    host, sep, port = server.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("%s must be host:port, got %r" % (what, server))
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class HubTarget:
    protocol: str  # WEBSOCKET or QUIC
    server: str  # host:port
    node_id: str
    project_id: str
    ca_file: str
    cert_file: str
    key_file: str
    native: bool = True  # offer kedge's MessagePack lane (falls back to JSON against a KubeEdge cloud)
    timeout: float = 30.0


def make_connector(t: HubTarget) -> Connector:
    if t.protocol not in (WEBSOCKET, QUIC):
        raise ValueError("hub protocol must be %r or %r, got %r" % (WEBSOCKET, QUIC, t.protocol))
    host, port = split_server(t.server, "edgeHub.%s.server" % t.protocol)

    if t.protocol == WEBSOCKET:
        from kedge.transport.ws_client import connect_ws

        async def connect(handler: EdgeSession) -> Link:
            ctx = client_ssl_context(t.ca_file, t.cert_file, t.key_file)
            return await connect_ws(
                host,
                port,
                ssl_context=ctx,
                node_id=t.node_id,
                project_id=t.project_id,
                handler=handler,
                native=t.native,
                timeout=t.timeout,
            )

        return connect

    from kedge.transport.quic_client import connect_quic

    async def connect_q(handler: EdgeSession) -> Link:
        return await connect_quic(
            host,
            port,
            ca_path=t.ca_file,
            cert_path=t.cert_file,
            key_path=t.key_file,
            node_id=t.node_id,
            project_id=t.project_id,
            handler=handler,
            timeout=t.timeout,
        )

    return connect_q
