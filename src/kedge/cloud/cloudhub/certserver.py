"""CloudHub's HTTPS server on 10002: the CA, edge certificates, and "is this node name taken".

Served exactly as a real KubeEdge edgecore calls it (reference/kubeedge-wire.md §2.2):

  GET /ca.crt        200, body = the CA as DER (no authentication; the edge checks it against the
                     CA hash in its token)
  GET /edge.crt      a PKCS#10 CSR (DER; PEM accepted too) as the body of a GET, header NodeName (Go
                     sends `Nodename`). Authenticated by `Authorization: Bearer <JWT>` to join, or by
                     the node's current client certificate to rotate. 200 with the DER certificate.
  GET /node/{name}   200 "Node found" or 404 (keadm refuses to join a name already taken)

TLS asks for a client certificate without requiring one. Python cannot request a certificate without
verifying it, so a certificate from another CA, or an expired one, fails the handshake here, where
KubeEdge's cloudcore (Go's RequestClientCert) completes it and answers 401: both refuse.
HTTP/1.1 without ALPN, as Go's client speaks it; idle keep-alive connections are fine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from kedge.cloud.cloudhub.certs import CloudCerts
from kedge.security import pki
from kedge.security.errors import PKIError
from kedge.security.tokens import TokenError, TokenRing, bearer_jwt

log = logging.getLogger(__name__)

DEFAULT_PORT = 10002
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
MAX_CSR_BYTES = 64 * 1024  # a P-256 CSR is ~300 bytes, an RSA-4096 one under 2 KiB

# Kubernetes node names are DNS subdomains; the name becomes the CN of the certificate.
_NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

NodeExists = Callable[[str], Awaitable[bool]]


class CertServer:
    """A running 10002 server; `port` is the bound one (useful when 0 was asked for)."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def close(self) -> None:
        await self._runner.cleanup()


def node_name_problem(name: str | None) -> str | None:
    """Why `name` cannot be a node name, or None when it can."""
    if not name:
        return "missing NodeName header: the node asking for a certificate must name itself"
    if len(name) > 253 or not _NODE_NAME.fullmatch(name):
        return "NodeName %r is not a valid node name (a lowercase RFC 1123 DNS subdomain)" % name[:300]
    return None


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def _subject_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


class _Handlers:
    def __init__(
        self,
        certs: CloudCerts,
        ring: TokenRing,
        node_exists: NodeExists,
        signing_days: int,
        clock: Callable[[], float],
    ) -> None:
        self.certs = certs
        self.ring = ring
        self.node_exists = node_exists
        self.signing_days = signing_days
        self.clock = clock

    async def ca(self, request: web.Request) -> web.Response:
        return web.Response(body=self.certs.ca_der, content_type="application/octet-stream")

    async def node(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if node_name_problem(name) is not None:
            return _text(404, "node %r not found" % name[:300])
        try:
            found = await self.node_exists(name)
        except Exception as e:  # the API may be unreachable; say so rather than guess
            log.warning("cannot tell whether node %s exists: %s", name, e)
            return _text(503, "cannot tell whether node %s exists: %s" % (name, e))
        return _text(200, "Node found") if found else _text(404, "node %s not found" % name)

    def _authenticate(self, request: web.Request, node: str) -> tuple[web.Response | None, str]:
        """(a refusal, or None; how the caller proved itself)."""
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            try:
                self.ring.verify(bearer_jwt(authorization), self.clock())
            except TokenError as e:
                return _text(401, "join token refused: %s" % e), ""
            return None, "token"
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not peer:
            return (
                _text(
                    401,
                    "no Authorization header and no client certificate: send 'Authorization: Bearer "
                    "<token>' to join, or present the node's current certificate to renew it",
                ),
                "",
            )
        # TLS verified the chain and validity against our CA; what is left is whose certificate it is.
        cert = x509.load_der_x509_certificate(peer)
        cns = _subject_values(cert.subject, NameOID.COMMON_NAME)
        groups = _subject_values(cert.subject, NameOID.ORGANIZATION_NAME)
        if cns != [NODE_PREFIX + node] or NODES_GROUP not in groups:
            return (
                _text(
                    403,
                    "client certificate %s may not renew the certificate of node %s (expected O=%s, "
                    "CN=%s%s)" % (cert.subject.rfc4514_string(), node, NODES_GROUP, NODE_PREFIX, node),
                ),
                "",
            )
        return None, "certificate"

    async def edge_cert(self, request: web.Request) -> web.Response:
        node = request.headers.get("NodeName")
        problem = node_name_problem(node)
        if problem is not None:
            return _text(400, problem)
        assert node is not None
        refusal, method = self._authenticate(request, node)
        if refusal is not None:
            log.warning(
                "refused a certificate for node %s from %s: %s", node, request.remote, refusal.text.strip()
            )
            return refusal
        if request.content_length is not None and request.content_length > MAX_CSR_BYTES:
            return _text(413, "the certificate signing request is over %d bytes" % MAX_CSR_BYTES)
        body = await request.read()
        if not body:
            return _text(400, "empty body: send the PKCS#10 certificate signing request (DER) as the body")
        try:
            csr = pki.parse_csr(body)
        except PKIError as e:
            return _text(400, str(e))
        refusal = self._check_subject(csr.subject, node)
        if refusal is not None:
            return refusal
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        try:
            cert = pki.sign_csr(
                self.certs.ca_key,
                self.certs.ca_cert,
                body,
                days=self.signing_days,
                now=now,
                usages="client",
                common_name=NODE_PREFIX + node,
            )
        except PKIError as e:
            return _text(400, str(e))
        log.info(
            "issued a certificate for node %s (serial %x, valid until %s, authenticated by %s)",
            node,
            cert.serial_number,
            cert.not_valid_after_utc.isoformat(),
            method,
        )
        return web.Response(body=pki.cert_to_der(cert), content_type="application/octet-stream")

    @staticmethod
    def _check_subject(subject: x509.Name, node: str) -> web.Response | None:
        cns = _subject_values(subject, NameOID.COMMON_NAME)
        if len(cns) != 1:
            return _text(400, "the request's subject needs exactly one CN, it has %d" % len(cns))
        if cns[0] != NODE_PREFIX + node:
            return _text(
                403,
                "the request is for CN=%s, but NodeName %s may only ask for CN=%s%s"
                % (cns[0], node, NODE_PREFIX, node),
            )
        groups = _subject_values(subject, NameOID.ORGANIZATION_NAME)
        # Exactly the nodes group: any other O would become a Kubernetes group of the certificate.
        if groups != [NODES_GROUP]:
            return _text(
                400, "the request's subject must carry O=%s and no other O, it has %s" % (NODES_GROUP, groups)
            )
        return None


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    dual = host == "::" and socket.has_dualstack_ipv6()
    return socket.create_server((host, port), family=family, backlog=1024, dualstack_ipv6=dual)


async def start_cert_server(
    host: str,
    port: int,
    certs: CloudCerts,
    ring: TokenRing,
    *,
    node_exists: NodeExists,
    signing_days: int = 365,
    clock: Callable[[], float] = time.time,
) -> CertServer:
    """Serve the CA, edge certificates and node lookups on https://host:port (module docstring)."""
    if signing_days <= 0:
        raise ValueError("signing_days must be positive, got %d" % signing_days)
    handlers = _Handlers(certs, ring, node_exists, signing_days, clock)
    app = web.Application(client_max_size=MAX_CSR_BYTES)
    app.router.add_get("/ca.crt", handlers.ca, allow_head=False)
    app.router.add_get("/edge.crt", handlers.edge_cert, allow_head=False)
    app.router.add_get("/node/{name}", handlers.node, allow_head=False)
    ssl_context = certs.server_ssl_context()
    sock = _listening_socket(host, port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    try:
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=ssl_context).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    bound = sock.getsockname()[1]
    log.info("CloudHub certificate server listening on https://%s:%d", host, bound)
    return CertServer(runner, bound)
