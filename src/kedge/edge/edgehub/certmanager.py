"""The edge's certificate: join with a token, rotate before expiry (reference/kubeedge-wire.md §2).

Join, as KubeEdge's edgecore does it:
  1. GET /ca.crt without verifying the server (the edge has no CA yet); the SHA-256 of the raw body
     must equal part 0 of the token, which is what makes the unverified download safe.
  2. Write the CA (PEM of those exact bytes).
  3. New ECDSA P-256 key; CSR `C=CN, ST=Zhejiang, L=Hangzhou, O=system:nodes, CN=system:node:<node>`.
  4. GET /edge.crt with the DER CSR as the body, `Authorization: Bearer <JWT>` and `NodeName`, the
     server now verified against the CA from step 1. 200 -> the DER certificate.
  5. Write certificate and key (PEM, 0600, directories 0700, atomically).
Rotation repeats 3-5 presenting the current certificate instead of a token, at a deadline drawn at
70-90 % of the certificate's lifetime.

This module is imported by edgecore at start; cryptography (~12 MB resident, through kedge.security.pki)
is imported only inside the functions that make keys, that is join and rotate. Deciding whether to join
and when to rotate reads the certificate with kedge.security.certdates (standard library only). The
HTTP calls use http.client (it sends a body with GET, as Go does) in a worker thread: no aiohttp here.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import random
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from kedge.security import certdates, tls
from kedge.security.errors import PKIError
from kedge.security.files import KEY_MODE as FILE_MODE
from kedge.security.files import write_files

NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
# KubeEdge's CSR subject apart from O and CN (edge/pkg/edgehub/certificate), kept for look-alike certs.
CSR_LOCALITY = (("C", "CN"), ("ST", "Zhejiang"), ("L", "Hangzhou"))
MAX_RESPONSE_BYTES = 64 * 1024
ROTATE_AT = (0.7, 0.9)  # fraction of the lifetime, as KubeEdge's jittery deadline

StrPath = str | os.PathLike[str]


class CertificateRequestError(Exception):
    """The cloud could not be reached, refused, or answered something unusable; the message says which."""


class JoinError(CertificateRequestError):
    """Joining failed; no certificate or key was written (the CA file may have been)."""


class NodeExistsError(JoinError):
    """The cloud already has a node of this name (keadm refuses to join a taken name)."""


class RotationError(CertificateRequestError):
    """Renewing the certificate failed; the current certificate and key are untouched."""


def node_common_name(node_name: str) -> str:
    return NODE_PREFIX + node_name


# -- files -------------------------------------------------------------------------------------------


def _read_cert_der(cert_file: StrPath) -> bytes:
    try:
        data = Path(cert_file).read_bytes()
    except OSError as e:
        raise PKIError("%s: cannot read the certificate: %s" % (cert_file, e.strerror or e)) from None
    try:
        return certdates.cert_der(data)
    except PKIError as e:
        raise PKIError("%s: %s" % (cert_file, e)) from None


# -- decisions (no cryptography) ---------------------------------------------------------------------


def needs_join(cert_file: StrPath, key_file: StrPath, node_name: str, now: float) -> bool:
    """True when there is no usable certificate for this node: a file missing or unreadable, the key
    not matching the certificate, the certificate expired at `now` (unix seconds) or issued to another
    CN than system:node:<node_name>. A certificate not valid yet is kept: that is clock skew, which a
    new join would not cure."""
    try:
        der = _read_cert_der(cert_file)
        _, not_after = certdates.cert_validity(der)
        cn = certdates.cert_subject_cn(der)
    except PKIError:
        return True
    if now >= not_after or cn != node_common_name(node_name):
        return True
    try:
        # OpenSSL checks that the key belongs to the certificate; cheaper than importing cryptography.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError):
        return True
    return False


def rotation_deadline(cert_file: StrPath, rng: random.Random) -> float:
    """When to renew (unix seconds): a point drawn at 70-90 % of the certificate's lifetime, so a fleet
    joined together does not renew together. PKIError when the file cannot be read."""
    not_before, not_after = certdates.cert_validity(_read_cert_der(cert_file))
    return not_before + (not_after - not_before) * rng.uniform(*ROTATE_AT)


# -- HTTP --------------------------------------------------------------------------------------------


def _server_address(http_server: str) -> tuple[str, int]:
    try:
        parts = urlsplit(http_server)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        parts = None
    if parts is None or parts.scheme != "https" or not host:
        raise CertificateRequestError(
            "edgeHub.httpServer %r is not an https://HOST:PORT URL of cloudcore's certificate server"
            % http_server
        )
    return host, port or 10002


def _insecure_context() -> ssl.SSLContext:
    """For /ca.crt only: the edge has no CA yet; the token's hash authenticates what comes back."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _get(
    http_server: str,
    path: str,
    ctx: ssl.SSLContext,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
) -> tuple[int, bytes]:
    """(status, body) of a GET to the certificate server; CertificateRequestError naming the URL on
    network, TLS or HTTP failures."""
    host, port = _server_address(http_server)
    url = "%s%s" % (http_server.rstrip("/"), path)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BYTES + 1)
        if len(data) > MAX_RESPONSE_BYTES:
            raise CertificateRequestError("GET %s: the answer is over %d bytes" % (url, MAX_RESPONSE_BYTES))
        return response.status, data
    except ssl.SSLCertVerificationError as e:
        raise CertificateRequestError(
            "GET %s: the server's certificate does not verify against the cloud CA: %s"
            % (url, e.verify_message or e)
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise CertificateRequestError("GET %s failed: %s" % (url, e or type(e).__name__)) from None
    finally:
        conn.close()


def _answer_text(body: bytes) -> str:
    return body[:500].decode("utf-8", "replace").strip() or "(empty body)"


def _new_key_and_csr(node_name: str):
    """(key, DER CSR) for this node, subject as KubeEdge's (RDN order C, ST, L, O, CN)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from kedge.security import pki

    oids = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME}
    attrs = [x509.NameAttribute(oids[k], v) for k, v in CSR_LOCALITY]
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, node_common_name(node_name)))
    key = pki.generate_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return key, pki.csr_to_der(csr)


def _same_public_key(a, b) -> bool:
    from cryptography.hazmat.primitives import serialization

    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)


def _request_cert(
    http_server: str,
    node_name: str,
    ctx: ssl.SSLContext,
    ca_der: bytes,
    headers: Mapping[str, str],
    timeout: float,
    error: type[CertificateRequestError],
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) issued by the cloud for a new key, checked before anything is written."""
    from kedge.security import pki

    key, csr_der = _new_key_and_csr(node_name)
    try:
        status, body = _get(
            http_server,
            "/edge.crt",
            ctx,
            headers={**headers, "NodeName": node_name},
            body=csr_der,
            timeout=timeout,
        )
    except CertificateRequestError as e:
        hint = ""
        if error is RotationError:
            # With TLS 1.3 a refused client certificate shows up as a dropped connection.
            hint = (
                " (if the cloud dropped the connection, it may no longer trust this certificate: expired,"
                " or its CA replaced; the node must then join again with a token)"
            )
        raise error("%s%s" % (e, hint)) from None
    if status != 200:
        raise error(
            "cloudcore refused the certificate for node %s: HTTP %d: %s"
            % (node_name, status, _answer_text(body))
        )
    # Check what came back is ours before it replaces anything: our key, our name, the cloud's CA.
    try:
        cert = pki.parse_cert(body)
    except PKIError as e:
        raise error("/edge.crt answered 200 but not with a certificate: %s" % e) from None
    if not pki.issued_by(cert, pki.parse_cert(ca_der)):
        raise error("the certificate from /edge.crt was not issued by the cloud CA")
    if pki.cert_common_name(cert) != node_common_name(node_name):
        raise error(
            "the certificate from /edge.crt is for CN=%s, expected %s"
            % (pki.cert_common_name(cert), node_common_name(node_name))
        )
    if not _same_public_key(cert.public_key(), key.public_key()):
        raise error("the certificate from /edge.crt does not certify the key this node generated")
    return pki.cert_to_pem(cert), pki.key_to_pem(key)


# -- join and rotation -------------------------------------------------------------------------------


def _join(
    http_server: str,
    token: str,
    node_name: str,
    ca_file: Path,
    cert_file: Path,
    key_file: Path,
    timeout: float,
    allow_existing: bool,
) -> None:
    from kedge.security import tokens

    try:
        expected_hash, jwt = tokens.split_token(token.strip())
    except tokens.TokenError as e:
        raise JoinError(str(e)) from None
    try:
        status, ca_der = _get(http_server, "/ca.crt", _insecure_context(), timeout=timeout)
    except CertificateRequestError as e:
        raise JoinError(str(e)) from None
    actual_hash = hashlib.sha256(ca_der).hexdigest()
    if actual_hash != expected_hash:
        where = "" if status == 200 else " (HTTP %d)" % status
        raise JoinError(
            "the CA served by %s%s has sha256 %s, but the token names CA %s: the token belongs to another "
            "cloudcore, or something else answered; nothing was written"
            % (http_server, where, actual_hash, expected_hash)
        )
    write_files([(ca_file, certdates.der_to_pem(ca_der), FILE_MODE)])
    ctx = tls.client_ssl_context(ca_file)
    if not allow_existing:
        try:
            status, body = _get(http_server, "/node/%s" % node_name, ctx, timeout=timeout)
        except CertificateRequestError as e:
            raise JoinError(str(e)) from None
        if status == 200:
            raise NodeExistsError(
                "the cloud already has a node named %s; choose another name, or remove that node first"
                % node_name
            )
        if status != 404:
            raise JoinError(
                "cannot tell whether node %s exists: HTTP %d: %s" % (node_name, status, _answer_text(body))
            )
    cert_pem, key_pem = _request_cert(
        http_server, node_name, ctx, ca_der, {"Authorization": "Bearer %s" % jwt}, timeout, JoinError
    )
    # Key first: a crash between the two renames leaves no certificate, so the next start joins again.
    write_files([(key_file, key_pem, FILE_MODE), (cert_file, cert_pem, FILE_MODE)])


async def join(
    http_server: str,
    token: str,
    node_name: str,
    *,
    ca_file: StrPath,
    cert_file: StrPath,
    key_file: StrPath,
    timeout: float = 30,
    allow_existing: bool = True,
) -> None:
    """Join the cloud at `http_server` (https://HOST:PORT) as `node_name` with a join token and write
    CA, certificate and key (module docstring). With `allow_existing=False`, refuse (NodeExistsError)
    when the cloud already has a node of that name. JoinError says what went wrong; PKIError when a
    file cannot be written."""
    await asyncio.to_thread(
        _join,
        http_server,
        token,
        node_name,
        Path(ca_file),
        Path(cert_file),
        Path(key_file),
        timeout,
        allow_existing,
    )


def _rotate(
    http_server: str, node_name: str, ca_file: Path, cert_file: Path, key_file: Path, timeout: float
) -> None:
    try:
        ca_der = certdates.pem_to_der(ca_file.read_bytes())
    except OSError as e:
        raise RotationError("cannot read the CA %s: %s" % (ca_file, e.strerror or e)) from None
    except PKIError as e:
        raise RotationError("%s: %s" % (ca_file, e)) from None
    try:
        ctx = tls.client_ssl_context(ca_file, cert_file, key_file)
    except PKIError as e:
        raise RotationError(str(e)) from None
    cert_pem, key_pem = _request_cert(http_server, node_name, ctx, ca_der, {}, timeout, RotationError)
    write_files([(key_file, key_pem, FILE_MODE), (cert_file, cert_pem, FILE_MODE)])


async def rotate(
    http_server: str,
    node_name: str,
    *,
    ca_file: StrPath,
    cert_file: StrPath,
    key_file: StrPath,
    timeout: float = 30,
) -> None:
    """Renew the certificate: a new key and CSR, authenticated by the current certificate (no token),
    then certificate and key replaced together. RotationError leaves the current pair in place."""
    await asyncio.to_thread(
        _rotate, http_server, node_name, Path(ca_file), Path(cert_file), Path(key_file), timeout
    )
