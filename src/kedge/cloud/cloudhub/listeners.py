"""CloudHub's listeners: WebSocket (10000/tcp), QUIC (10001/udp), join and certificates (10002/tcp)."""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kedge.cloud.cloudhub.hub import CloudHub
from kedge.security import tls

log = logging.getLogger(__name__)


def hub_ssl_context(cert_path: str, key_path: str, ca_path: str) -> ssl.SSLContext:
    """Mutual TLS for the hub: client certificates required and verified against the CA.

    No session tickets: edges never resume (they reconnect rarely and KubeEdge's never offers one),
    and the two default tickets cost ~23 % of a handshake's CPU (transport-measurements.md §1)."""
    ctx = tls.server_ssl_context(cert_path, key_path, client_ca_path=ca_path, require_client_cert=True)
    ctx.num_tickets = 0
    return ctx


def client_verifier(ca_cert: Any) -> Callable[[list[bytes]], str]:
    """The QUIC lane's in-handshake client check: chain to the CA, validity, EKU clientAuth → CN."""
    from cryptography import x509

    from kedge.security import pki

    def verify(chain: list[bytes]) -> str:
        if not chain:
            raise ValueError("no client certificate")
        try:
            leaf = x509.load_der_x509_certificate(chain[0])
            inter = [x509.load_der_x509_certificate(d) for d in chain[1:]]
            pki.verify_client_cert(leaf, ca_cert, now=dt.datetime.now(dt.UTC), intermediates=inter)
        except (ValueError, pki.PKIError) as e:
            raise ValueError(str(e)) from None
        return pki.cert_common_name(leaf)

    return verify


@dataclass
class Listeners:
    """What is listening; `close()` stops all of them (sessions are closed by the transports)."""

    ws: Any = None
    quic: Any = None
    https: Any = None
    ports: dict[str, int] = field(default_factory=dict)

    async def close(self) -> None:
        for server in (self.ws, self.quic):
            if server is not None:
                server.close()
                await server.wait_closed()
        if self.https is not None:
            await self.https.close()


async def start_listeners(
    hub: CloudHub,
    *,
    ca_cert: Any,
    ca_path: str,
    cert_path: str,
    key_path: str,
    ws: tuple[str, int] | None,
    quic: tuple[str, int] | None,
    quic_idle_timeout: float = 75.0,
) -> Listeners:
    out = Listeners()
    try:
        if ws is not None:
            from kedge.transport.ws_server import serve_ws

            ctx = hub_ssl_context(cert_path, key_path, ca_path)
            out.ws = await serve_ws(ws[0], ws[1], ctx, hub.acceptor)
            out.ports["websocket"] = out.ws.port
        if quic is not None:
            from kedge.transport.quic_server import serve_quic

            out.quic = await serve_quic(
                quic[0],
                quic[1],
                cert_path=cert_path,
                key_path=key_path,
                verify_client=client_verifier(ca_cert),
                acceptor=hub.acceptor,
                idle_timeout=quic_idle_timeout,
            )
            out.ports["quic"] = out.quic.port
    except BaseException:
        await out.close()
        raise
    return out
