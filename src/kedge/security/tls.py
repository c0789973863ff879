"""TLS contexts for kedge's listeners and clients.

Kept apart from `pki` so a process that only connects (edgecore) never imports cryptography: its
resident cost is ~12 MB (reference/edge-measurements.md), and the edge needs it only to join and to
rotate its certificate.
"""

import ssl
from pathlib import Path

from kedge.security.errors import PKIError


def server_ssl_context(
    cert_path: Path | str,
    key_path: Path | str,
    *,
    client_ca_path: Path | str | None = None,
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    """A TLS ≥1.2 server context. With `client_ca_path`, client certificates are verified against it:
    required when `require_client_cert`, else optional (one that fails verification still fails the
    handshake)."""
    if require_client_cert and client_ca_path is None:
        raise PKIError("require_client_cert needs client_ca_path to verify client certificates against")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as e:
        raise PKIError("cannot load certificate %s with key %s: %s" % (cert_path, key_path, e)) from None
    if client_ca_path is not None:
        _load_ca(ctx, client_ca_path)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_ssl_context(
    ca_path: Path | str, cert_path: Path | str | None = None, key_path: Path | str | None = None
) -> ssl.SSLContext:
    """A TLS ≥1.2 client context that verifies the server against `ca_path` (hostname included) and
    presents `cert_path`/`key_path` when given."""
    if key_path is not None and cert_path is None:
        raise PKIError("key_path %s given without cert_path" % key_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_ca(ctx, ca_path)
    if cert_path is not None:
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as e:
            raise PKIError(
                "cannot load client certificate %s with key %s: %s" % (cert_path, key_path, e)
            ) from None
    return ctx


def _load_ca(ctx: ssl.SSLContext, ca_path: Path | str) -> None:
    try:
        ctx.load_verify_locations(cafile=ca_path)
    except (OSError, ssl.SSLError) as e:
        raise PKIError("cannot load CA certificates from %s: %s" % (ca_path, e)) from None
