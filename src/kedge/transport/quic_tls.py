"""Mutual TLS for aioquic 1.7.2 servers, done inside the TLS handshake. All of kedge's reliance on
aioquic's private TLS internals is in this module, checked at import.

aioquic has two gaps for a server that must authenticate its clients (reference/transport-measurements.md
§3):
1. It cannot ask for a client certificate through public configuration: the only switch is the private
   `tls.Context._request_client_certificate` ("for test purposes only").
2. It never checks the client's chain: on the server side it verifies only the CertificateVerify
   signature (proof that the client holds the key), and a client may answer with an empty Certificate
   message and still complete the handshake.

The fix, per connection and without touching aioquic globally: `MutualTLSServerConnection` is a
`QuicConnection` whose `_initialize` (where aioquic builds its `tls.Context`) turns that context into a
`MutualTLSServerContext`. The subclass requests a certificate and hooks the server's TLS state machine:
- Certificate: an empty one is refused with `certificate_required`;
- CertificateVerify: after aioquic's signature check, the chain goes to the injected `verify_client`
  (DER chain, leaf first -> the leaf's CN, or ValueError(reason)); a refusal raises `bad_certificate`;
- Finished: a last gate, so no path (an empty certificate, a PSK resumption that skips the certificate
  request) reaches the 1-RTT keys without a verified client.
A raised `tls.Alert` makes aioquic close the connection with CRYPTO_ERROR + alert before the handshake
completes: the client's Finished is never accepted, so no application data is ever decrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aioquic
from aioquic import tls
from aioquic.quic.connection import QuicConnection

log = logging.getLogger(__name__)

#: The aioquic release whose private internals these fix-ups were written and reviewed against.
PATCHED_AGAINST = "1.7.2"

#: DER chain of the client, leaf first -> the leaf's common name; raises ValueError(reason) to refuse.
VerifyClient = Callable[[list[bytes]], str]


def check_aioquic() -> None:
    """Fails with a clear message when the installed aioquic is not the one these fix-ups fit."""
    version = getattr(aioquic, "__version__", "?")
    if version.split(".")[:2] != PATCHED_AGAINST.split(".")[:2]:
        raise ImportError(
            "kedge's QUIC mutual TLS patches aioquic %s internals, but aioquic %s is installed; review "
            "kedge/transport/quic_tls.py against aioquic's tls.py before allowing it"
            % (PATCHED_AGAINST, version)
        )
    probe = tls.Context(is_client=False)
    missing = [
        name
        for owner, name in (
            (tls.Context, "_server_handle_certificate"),
            (tls.Context, "_server_handle_certificate_verify"),
            (tls.Context, "_server_handle_finished"),
            (tls.Context, "_set_peer_certificate"),
            (probe, "_request_client_certificate"),
            (probe, "_peer_certificate"),
            (probe, "_is_client"),
            (tls.State, "SERVER_EXPECT_CERTIFICATE"),
            (tls.AlertDescription, "certificate_required"),
            (QuicConnection, "_initialize"),
        )
        if not hasattr(owner, name)
    ]
    if hasattr(tls.Context, "__slots__"):
        missing.append("tls.Context without __slots__")
    if missing:
        raise ImportError(
            "aioquic %s lacks the private names kedge's QUIC mutual TLS relies on: %s"
            % (version, ", ".join(missing))
        )


check_aioquic()


class AlertCertificateRequired(tls.Alert):
    description = tls.AlertDescription.certificate_required


class MutualTLSServerContext(tls.Context):
    """aioquic's server TLS context, requesting and verifying a client certificate. Instances are made
    by `require_client_certificate` from the context aioquic built (see the module docstring)."""

    _kedge_verify: VerifyClient
    _kedge_chain: list[bytes]
    client_cn: str | None

    def _set_peer_certificate(self, certificate: Any) -> None:
        super()._set_peer_certificate(certificate)
        self._kedge_chain = [der for der, _extensions in certificate.certificates]

    def _server_handle_certificate(self, input_buf: Any) -> None:
        super()._server_handle_certificate(input_buf)
        if self._peer_certificate is None:
            raise AlertCertificateRequired("a client certificate is required")

    def _server_handle_certificate_verify(self, input_buf: Any) -> None:
        super()._server_handle_certificate_verify(input_buf)  # the client holds the leaf's key
        try:
            cn = self._kedge_verify(self._kedge_chain)
        except ValueError as e:
            raise tls.AlertBadCertificate("client certificate refused: %s" % e) from None
        except Exception:
            log.exception("client certificate check failed")
            raise tls.AlertInternalError("client certificate check failed") from None
        self.client_cn = cn

    def _server_handle_finished(self, input_buf: Any, output_buf: Any) -> None:
        if self.client_cn is None:
            raise AlertCertificateRequired("a verified client certificate is required")
        super()._server_handle_finished(input_buf, output_buf)


def require_client_certificate(context: tls.Context, verify_client: VerifyClient) -> MutualTLSServerContext:
    """Turns aioquic's fresh server context into a MutualTLSServerContext, in place. tls.Context has no
    __slots__ and the subclass adds only methods and attributes, so re-classing keeps all its state."""
    if context._is_client or context.state != tls.State.SERVER_EXPECT_CLIENT_HELLO:
        raise ValueError("only a fresh server TLS context can be made to require a client certificate")
    context.__class__ = MutualTLSServerContext
    assert isinstance(context, MutualTLSServerContext)
    context._request_client_certificate = True
    context._kedge_verify = verify_client
    context._kedge_chain = []
    context.client_cn = None
    return context


class MutualTLSServerConnection(QuicConnection):
    """A server QuicConnection whose handshake succeeds only for a client `verify_client` accepts."""

    def __init__(self, *, verify_client: VerifyClient, **kwargs: Any) -> None:
        self._kedge_verify = verify_client
        super().__init__(**kwargs)
        if self._is_client:
            raise ValueError("MutualTLSServerConnection is for the server side")

    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        require_client_certificate(self.tls, self._kedge_verify)

    @property
    def client_cn(self) -> str | None:
        """CN of the verified client certificate (None until the client's CertificateVerify)."""
        ctx = getattr(self, "tls", None)
        return ctx.client_cn if isinstance(ctx, MutualTLSServerContext) else None
