"""The embedded API server as cloudcore and `kedge apiserver` run it: its own CA and serving certificate,
an admin bearer token, and `<data-dir>/admin.kubeconfig` for kubectl and client libraries.

Layout of the data directory:
  apiserver/pki/ca.crt, ca.key            the API server's CA (created once, never replaced)
  apiserver/pki/apiserver.crt, .key       serving certificate (re-issued when a SAN is missing or it expires)
  apiserver/admin-token                   the admin bearer token (0600)
  apiserver/apiserver.db                  the object store
  admin.kubeconfig                        kubeconfig with the CA and token embedded
"""

import base64
import datetime as dt
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml

from kedge.apiserver.server import ApiServer
from kedge.security import pki

KUBECONFIG = "admin.kubeconfig"


@dataclass(frozen=True)
class EmbeddedSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6443


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` -> (host, port), with a message naming what is wrong."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("--listen %r: expected HOST:PORT with a port from 0 to 65535" % listen)
    host = host.strip("[]") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError("--listen %r: the host must be an IP address or localhost" % listen) from None
        host = "127.0.0.1"
    return host, int(port)


def admin_token(directory: Path) -> str:
    path = directory / "admin-token"
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    pki.write_pem(path, (token + "\n").encode(), mode=0o600)
    return token


def _sans(host: str) -> tuple[list[str], list[str]]:
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    hostname = socket.gethostname()
    if hostname and hostname not in dns:
        dns.append(hostname)
    ips = ["127.0.0.1", "::1"]
    if host not in ("0.0.0.0", "::") and host not in ips:
        ips.append(host)
    return dns, ips


def build_server(settings: EmbeddedSettings, *, now: dt.datetime | None = None) -> tuple[ApiServer, Path]:
    """Create (or load) PKI and token, write the kubeconfig, and return the server and kubeconfig path."""
    now = now or dt.datetime.now(dt.UTC)
    base = settings.data_dir / "apiserver"
    pki_dir = base / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = pki.ensure_ca(pki_dir, "kedge-apiserver-ca", now=now)
    dns, ips = _sans(settings.host)
    pki.ensure_server_cert(
        pki_dir, "apiserver", ca, dns_names=dns, ip_addresses=ips, now=now, common_name="kube-apiserver"
    )
    ctx = pki.server_ssl_context(pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    token = admin_token(base)
    server = ApiServer(base, host=settings.host, port=settings.port, ssl_context=ctx, tokens=[token])
    return server, settings.data_dir / KUBECONFIG


def write_kubeconfig(path: Path, *, server_url: str, ca_pem: bytes, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kedge",
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "kedge-admin", "user": {"token": token}}],
        "contexts": [{"name": "kedge", "context": {"cluster": "kedge", "user": "kedge-admin"}}],
        "current-context": "kedge",
        "preferences": {},
    }
    pki.write_pem(path, yaml.safe_dump(config, sort_keys=False).encode(), mode=0o600)


def client_host(host: str) -> str:
    """Where a local client should connect for a server listening on `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


async def start_embedded(settings: EmbeddedSettings) -> tuple[ApiServer, Path]:
    """Start the embedded server and write its kubeconfig (with the real port when 0 was asked)."""
    server, kubeconfig = build_server(settings)
    await server.start()
    host = client_host(settings.host)
    url = "https://%s:%d" % ("[%s]" % host if ":" in host else host, server.port)
    ca_pem = (settings.data_dir / "apiserver" / "pki" / "ca.crt").read_bytes()
    write_kubeconfig(kubeconfig, server_url=url, ca_pem=ca_pem, token=server.tokens[0])
    return server, kubeconfig
