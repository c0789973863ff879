"""Certificates for the hub benchmarks: a CA, the hub's serving certificate and one client certificate
per simulated node (CN system:node:<node>). The node certificates share one key: signing 10,000
certificates then takes seconds, and the hub verifies each chain and CN exactly as for real edges."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from kedge.security import pki


def node_name(prefix: str, i: int) -> str:
    return "%s-%05d" % (prefix, i)


def make_pki(directory: Path, prefix: str, count: int) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = pki.create_ca("kedge-bench-ca", now=now)
    pki.write_pem(directory / "ca.crt", pki.cert_to_pem(ca_cert))
    pki.write_pem(directory / "ca.key", pki.key_to_pem(ca_key))
    skey, scert = pki.issue_server_cert(
        ca_key, ca_cert, common_name="KubeEdge", dns_names=["localhost"], ip_addresses=["127.0.0.1"], now=now
    )
    pki.write_pem(directory / "server.crt", pki.cert_to_pem(scert))
    pki.write_pem(directory / "server.key", pki.key_to_pem(skey))
    node_key = pki.generate_key()
    pki.write_pem(directory / "node.key", pki.key_to_pem(node_key))
    nodes = directory / "nodes"
    nodes.mkdir(exist_ok=True)
    for i in range(count):
        name = node_name(prefix, i)
        _, cert = pki.issue_client_cert(
            ca_key,
            ca_cert,
            common_name="system:node:%s" % name,
            organizations=["system:nodes"],
            now=now,
            public_key=node_key.public_key(),
        )
        (nodes / ("%s.crt" % name)).write_bytes(pki.cert_to_pem(cert))
    paths = {
        "dir": str(directory),
        "ca": str(directory / "ca.crt"),
        "server_cert": str(directory / "server.crt"),
        "server_key": str(directory / "server.key"),
        "node_key": str(directory / "node.key"),
        "nodes": str(nodes),
        "prefix": prefix,
        "count": str(count),
    }
    (directory / "pki.json").write_text(json.dumps(paths))
    return paths
