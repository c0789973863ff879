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
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

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


def load_or_create_ca(
    cert_path: Path, key_path: Path, *, now: dt.datetime
) -> tuple[pki.PrivateKey, x509.Certificate]:
    """The CloudHub CA at these paths (CN KubeEdge, 100 years), created when neither file exists and
    never replaced: every edge certificate and token depends on it."""
    return pki.ensure_ca_files(cert_path, key_path, CA_COMMON_NAME, now=now, days=CA_DAYS)


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
    pki.ensure_server_cert_files(
        cert_path,
        key_path,
        ca,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        now=now,
        common_name=SERVER_COMMON_NAME,
        renew_before_days=SERVER_RENEW_BEFORE.days,
        days=SERVER_DAYS,
    )


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
