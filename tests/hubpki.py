"""Test PKI for hub tests: a CA, a serving certificate for loopback and node client certificates.
A second HubPKI in another directory is an unrelated CA for "wrong CA" cases. Real keys and
certificates, written as files as kedge reads them."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

from cryptography import x509

from kedge.security import pki, tls

NODES_O = "system:nodes"


def node_cn(node: str) -> str:
    return "system:node:%s" % node


class HubPKI:
    def __init__(self, directory: Path, *, name: str = "kedge-test-ca") -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.now = dt.datetime.now(dt.UTC)
        self.ca_key, self.ca_cert = pki.create_ca(name, now=self.now)
        self.ca_path = self.dir / "ca.crt"
        self.ca_key_path = self.dir / "ca.key"
        pki.write_pem(self.ca_path, pki.cert_to_pem(self.ca_cert))
        pki.write_pem(self.ca_key_path, pki.key_to_pem(self.ca_key))
        key, cert = pki.issue_server_cert(
            self.ca_key,
            self.ca_cert,
            common_name="kedge-cloudhub",
            dns_names=["localhost"],
            ip_addresses=["127.0.0.1"],
            now=self.now,
        )
        self.server_cert_path, self.server_key_path = self._write("server", key, cert)

    def _write(self, stem: str, key, cert: x509.Certificate) -> tuple[Path, Path]:
        cert_path, key_path = self.dir / ("%s.crt" % stem), self.dir / ("%s.key" % stem)
        pki.write_pem(cert_path, pki.cert_to_pem(cert))
        pki.write_pem(key_path, pki.key_to_pem(key))
        return cert_path, key_path

    def client_cert(
        self,
        cn: str,
        *,
        organizations: tuple[str, ...] = (NODES_O,),
        days: int = 365,
        stem: str | None = None,
    ) -> tuple[Path, Path]:
        key, cert = pki.issue_client_cert(
            self.ca_key, self.ca_cert, common_name=cn, organizations=organizations, days=days, now=self.now
        )
        return self._write(stem or cn.replace(":", "_"), key, cert)

    def node_cert(self, node: str) -> tuple[Path, Path]:
        return self.client_cert(node_cn(node))

    def server_context(self, *, require_client_cert: bool = True) -> ssl.SSLContext:
        return tls.server_ssl_context(
            self.server_cert_path,
            self.server_key_path,
            client_ca_path=self.ca_path,
            require_client_cert=require_client_cert,
        )

    def client_context(self, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        if cert is None:
            return tls.client_ssl_context(self.ca_path)
        return tls.client_ssl_context(self.ca_path, cert[0], cert[1])

    def node_context(self, node: str) -> ssl.SSLContext:
        return self.client_context(self.node_cert(node))
