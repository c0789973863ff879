"""CloudHub's CA, serving certificate and join token, as KubeEdge's cloudcore keeps them.

The CA (ECDSA P-256, CN `KubeEdge`, 100 years, like KubeEdge's) signs the 10000/10001/10002 serving
certificate and every edge certificate; its SHA-256 and its key are what join tokens are made of.

File locations follow cloudHub.tlsCAFile / tlsCAKeyFile / tlsCertFile / tlsPrivateKeyFile. A key left at
KubeEdge's default (/etc/kubeedge/...) is taken to mean "kedge decides", and kedge keeps that file in
the data directory instead, so a first start as a non-root user just works:

  <data_dir>/cloudhub/pki/rootCA.crt, rootCA.key   the CA (created once, never replaced)
  <data_dir>/cloudhub/pki/server.crt, server.key   serving certificate (re-issued when it stops covering
                                                   the addresses edges dial, or nears expiry)
  <data_dir>/cloudhub/token                        the join token cloudcore currently hands out (0600)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from kedge.config import cloudcore
from kedge.security import pki, tls, tokens
from kedge.security.errors import PKIError
from kedge.security.tokens import TokenError, TokenRing

log = logging.getLogger(__name__)

CA_COMMON_NAME = "KubeEdge"
CA_DAYS = 100 * 365  # KubeEdge's CA lives 100 years; edges pin it through the token hash
SERVER_COMMON_NAME = "KubeEdge"
SERVER_DAYS = 365
SERVER_RENEW_BEFORE = dt.timedelta(days=30)
TOKEN_FILE = "token"
WILDCARD_HOSTS = ("", "0.0.0.0", "::")

# KubeEdge's default file -> kedge's file under <data_dir>/cloudhub/pki.
_DATA_DIR_NAMES = {
    cloudcore.DEFAULT_CA_FILE: "rootCA.crt",
    cloudcore.DEFAULT_CA_KEY_FILE: "rootCA.key",
    cloudcore.DEFAULT_CERT_FILE: "server.crt",
    cloudcore.DEFAULT_KEY_FILE: "server.key",
}


@dataclass(frozen=True)
class CertPaths:
    ca_cert_path: Path
    ca_key_path: Path
    cert_path: Path
    key_path: Path
    token_path: Path

    @classmethod
    def resolve(cls, hub_cfg: cloudcore.CloudHub, data_dir: Path | str) -> CertPaths:
        """The files `hub_cfg` names, with KubeEdge's defaults moved into `data_dir` (module docstring)."""
        base = Path(data_dir) / "cloudhub"

        def place(configured: str) -> Path:
            name = _DATA_DIR_NAMES.get(configured)
            return base / "pki" / name if name is not None else Path(configured)

        return cls(
            ca_cert_path=place(hub_cfg.tls_ca_file),
            ca_key_path=place(hub_cfg.tls_ca_key_file),
            cert_path=place(hub_cfg.tls_cert_file),
            key_path=place(hub_cfg.tls_private_key_file),
            token_path=base / TOKEN_FILE,
        )


@dataclass
class CloudCerts:
    ca_cert_path: Path
    ca_key_path: Path
    cert_path: Path
    key_path: Path
    token_path: Path
    ca_key: pki.PrivateKey
    ca_cert: x509.Certificate
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)

    @property
    def ca_der(self) -> bytes:
        """The CA as DER: the body of `GET /ca.crt`, whose SHA-256 is part 0 of every join token."""
        return pki.cert_to_der(self.ca_cert)

    @classmethod
    def load_or_create(
        cls,
        hub_cfg: cloudcore.CloudHub,
        data_dir: Path | str,
        *,
        now: dt.datetime,
        listen_hosts: Sequence[str],
    ) -> CloudCerts:
        """The CA (created on first start) and a serving certificate that covers `server_names`."""
        paths = CertPaths.resolve(hub_cfg, data_dir)
        ca_key, ca_cert = load_or_create_ca(paths.ca_cert_path, paths.ca_key_path, now=now)
        dns, ips = server_names(hub_cfg, listen_hosts)
        ensure_server_pair(paths.cert_path, paths.key_path, (ca_key, ca_cert), dns, ips, now=now)
        return cls(
            ca_cert_path=paths.ca_cert_path,
            ca_key_path=paths.ca_key_path,
            cert_path=paths.cert_path,
            key_path=paths.key_path,
            token_path=paths.token_path,
            ca_key=ca_key,
            ca_cert=ca_cert,
            dns_names=dns,
            ip_addresses=ips,
        )

    def token_ring(self, refresh_hours: float) -> TokenRing:
        """Join tokens re-issued every `refresh_hours` (tokenRefreshDuration), each valid for twice that,
        as KubeEdge's exp = now + 2 x tokenRefreshDuration."""
        refresh = refresh_hours * 3600.0
        return TokenRing(self.ca_key, self.ca_cert, ttl=2 * refresh, refresh=refresh)

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS for 10000/10002: the serving certificate, client certificates optional but verified
        against the CA (an edge joining has none yet; a rotating or connected edge presents its own)."""
        return tls.server_ssl_context(
            self.cert_path, self.key_path, client_ca_path=self.ca_cert_path, require_client_cert=False
        )


# -- the CA ------------------------------------------------------------------------------------------


def _same_public_key(a: object, b: object) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)  # type: ignore[attr-defined]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def load_or_create_ca(
    cert_path: Path, key_path: Path, *, now: dt.datetime
) -> tuple[pki.PrivateKey, x509.Certificate]:
    """The CA at these paths, created when neither file exists. An existing CA is never replaced: every
    edge certificate and token depends on it, so unusable files raise PKIError for the operator."""
    if cert_path.exists() and key_path.exists():
        key, cert = pki.load_key(key_path), pki.load_cert(cert_path)
        if not _same_public_key(key.public_key(), cert.public_key()):
            raise PKIError("%s does not belong to %s (their public keys differ)" % (key_path, cert_path))
        if not _is_ca(cert):
            raise PKIError("%s is not a CA certificate (basicConstraints CA:false)" % cert_path)
        if cert.not_valid_after_utc <= now.astimezone(dt.UTC):
            raise PKIError(
                "%s expired on %s; replace the CA deliberately (every edge certificate depends on it)"
                % (cert_path, cert.not_valid_after_utc.isoformat())
            )
        return key, cert
    if cert_path.exists():
        raise PKIError(
            "%s exists without its key %s: restore the key, or remove both to create a new CA "
            "(every edge must then join again)" % (cert_path, key_path)
        )
    if key_path.exists():
        # The key is written first; a crash before the certificate leaves this. Finish with that key.
        key = pki.load_key(key_path)
        log.warning("CA key %s has no certificate; issuing %s for it", key_path, cert_path)
        key, cert = pki.create_ca(CA_COMMON_NAME, days=CA_DAYS, now=now, key=key)
        pki.write_pem(cert_path, pki.cert_to_pem(cert), pki.CERT_MODE)
        return key, cert
    key, cert = pki.create_ca(CA_COMMON_NAME, days=CA_DAYS, now=now)
    pki.write_pem(key_path, pki.key_to_pem(key), pki.KEY_MODE)
    pki.write_pem(cert_path, pki.cert_to_pem(cert), pki.CERT_MODE)
    log.info("created the CloudHub CA %s (sha256 %s)", cert_path, pki.cert_fingerprint_sha256(cert))
    return key, cert


# -- the serving certificate -------------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _add(dns: list[str], ips: list[str], name: str) -> None:
    """Files `name` by its kind (an address written among DNS names is still what edges dial)."""
    if _is_ip(name):
        name, names = str(ipaddress.ip_address(name)), ips
    else:
        name, names = name.lower(), dns
    if name and name not in names:
        names.append(name)


def server_names(hub_cfg: cloudcore.CloudHub, listen_hosts: Iterable[str]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the serving certificate must cover. As KubeEdge: advertiseAddress as
    IP SANs and dnsNames as DNS SANs. With no advertiseAddress, also the ways a local or test edge
    reaches this machine: 127.0.0.1, localhost, the host name and each non-wildcard listen address."""
    dns: list[str] = []
    ips: list[str] = []
    for name in [*hub_cfg.advertise_address, *hub_cfg.dns_names]:
        _add(dns, ips, name.strip())
    if not hub_cfg.advertise_address:
        for name in ("127.0.0.1", "localhost", socket.gethostname()):
            _add(dns, ips, name)
        for host in listen_hosts:
            host = host.strip().strip("[]")
            if host not in WILDCARD_HOSTS:
                _add(dns, ips, host)
    return dns, ips


def _renewal_reason(
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: dt.datetime,
) -> str | None:
    if not pki.issued_by(cert, ca_cert):
        return "it was signed by another CA"
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        return "it lacks EKU serverAuth"
    if cert.not_valid_after_utc - now.astimezone(dt.UTC) < SERVER_RENEW_BEFORE:
        return "it expires on %s" % cert.not_valid_after_utc.isoformat()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have_dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
        have_ips = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        have_dns, have_ips = set(), set()
    missing = [n for n in dns_names if n.lower() not in have_dns]
    missing += [a for a in ip_addresses if str(ipaddress.ip_address(a)) not in have_ips]
    if missing:
        return "it does not cover %s" % ", ".join(missing)
    return None


def _write_pair(cert_path: Path, cert_pem: bytes, key_path: Path, key_pem: bytes) -> None:
    """Both files staged beside their targets first, then renamed in: a crash leaves the old pair or
    (for an instant between the renames) a mismatch that the next start reports, never a torn file."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data, mode in ((key_path, key_pem, pki.KEY_MODE), (cert_path, cert_pem, pki.CERT_MODE)):
            tmp = path.with_name(".%s.%d.new" % (path.name, os.getpid()))
            pki.write_pem(tmp, data, mode)
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as e:
        raise PKIError("cannot write %s: %s" % (e.filename or cert_path, e.strerror or e)) from e
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def ensure_server_pair(
    cert_path: Path,
    key_path: Path,
    ca: tuple[pki.PrivateKey, x509.Certificate],
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    *,
    now: dt.datetime,
) -> None:
    """The serving certificate at these paths, issued by `ca` for the names and addresses. Re-issued
    when missing, within 30 days of expiry, signed by another CA or not covering a name; unreadable or
    mismatched files raise PKIError (they may be the operator's own)."""
    stem = cert_path.name.removesuffix(".crt")
    if key_path == cert_path.with_name(stem + ".key") and cert_path.name == stem + ".crt":
        # The <dir>/<name>.crt + <name>.key layout pki already manages (the data-dir default among them).
        pki.ensure_server_cert(
            cert_path.parent,
            stem,
            ca,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            now=now,
            renew_before_days=SERVER_RENEW_BEFORE.days,
            days=SERVER_DAYS,
            common_name=SERVER_COMMON_NAME,
        )
        return
    ca_key, ca_cert = ca
    if cert_path.exists() and key_path.exists():
        key, cert = pki.load_key(key_path), pki.load_cert(cert_path)
        if not _same_public_key(key.public_key(), cert.public_key()):
            raise PKIError("%s does not belong to %s (their public keys differ)" % (key_path, cert_path))
        reason = _renewal_reason(cert, ca_cert, dns_names, ip_addresses, now)
        if reason is None:
            return
        log.warning("re-issuing the CloudHub serving certificate %s: %s", cert_path, reason)
    else:
        log.info("issuing the CloudHub serving certificate %s", cert_path)
    new_key, new_cert = pki.issue_server_cert(
        ca_key,
        ca_cert,
        common_name=SERVER_COMMON_NAME,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        days=SERVER_DAYS,
        now=now,
    )
    _write_pair(cert_path, pki.cert_to_pem(new_cert), key_path, pki.key_to_pem(new_key))


# -- the join token ----------------------------------------------------------------------------------


def write_token(path: Path, token: str) -> None:
    """The token file `kedge gettoken` prints: 0600 (it lets anyone join a node), replaced atomically."""
    pki.write_pem(path, (token + "\n").encode("ascii"), mode=0o600)


def read_token(path: Path) -> str | None:
    """The token in `path`, or None when the file is missing, unreadable or empty."""
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def token_usable(token: str, ca_key: pki.PrivateKey, ca_cert: x509.Certificate, at: float) -> bool:
    """Whether `token` names this CA, is signed by its key and is still valid at `at` (unix seconds)."""
    try:
        ca_hash, jwt = tokens.split_token(token)
        tokens.verify_jwt(jwt, ca_key, now=at)
    except TokenError:
        return False
    return ca_hash == tokens.ca_hash(ca_cert)


async def run_token_rotation(
    ring: TokenRing,
    path: Path,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    poll: float = 60.0,
) -> None:
    """Keeps `path` holding the ring's current token until cancelled. The ring re-issues once its token
    is tokenRefreshDuration old; checking every `poll` seconds bounds the lag to that, which the token's
    lifetime (twice the refresh) absorbs. A failed write is logged and retried at the next check."""
    written: str | None = None
    while True:
        token = ring.current(clock())
        if token != written:
            try:
                write_token(path, token)
            except PKIError as e:
                log.error("cannot write the join token: %s", e)
            else:
                if written is not None:
                    log.info("join token refreshed; %s holds the new one", path)
                written = token
        await sleep(poll)
