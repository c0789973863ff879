"""Node join and certificate rotation over real TLS on loopback: the 10002 server (aiohttp) against the
edge's certmanager (http.client), raw requests shaped exactly like KubeEdge's, and the `kedge gettoken`,
`kedge join`, `kedge reset` commands end to end."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import random
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kedge import config
from kedge.cli.main import main
from kedge.cloud.cloudhub.certs import CloudCerts
from kedge.cloud.cloudhub.certserver import CertServer, start_cert_server
from kedge.config.cloudcore import CloudHub
from kedge.edge.edgehub import certmanager
from kedge.edge.edgehub.certmanager import JoinError, NodeExistsError, RotationError
from kedge.security import certdates, pki, tls, tokens

DAY = 86400.0
EXISTING = "existing-node"


@dataclass
class Cloud:
    certs: CloudCerts
    ring: tokens.TokenRing
    server: CertServer

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return "https://127.0.0.1:%d" % self.server.port

    def token(self) -> str:
        return self.ring.current(time.time())

    def jwt(self) -> str:
        return self.token().split(".", 1)[1]


async def _node_exists(name: str) -> bool:
    if name == "lookup-fails":
        raise RuntimeError("the API server is unreachable")
    return name == EXISTING


async def start_cloud(data_dir: Path) -> Cloud:
    certs = CloudCerts.load_or_create(
        CloudHub(), data_dir, now=dt.datetime.now(dt.UTC), listen_hosts=["127.0.0.1"]
    )
    ring = certs.token_ring(12)
    server = await start_cert_server("127.0.0.1", 0, certs, ring, node_exists=_node_exists)
    return Cloud(certs, ring, server)


@pytest.fixture
async def cloud(tmp_path):
    c = await start_cloud(tmp_path / "cloud")
    yield c
    await c.server.close()


@dataclass
class Edge:
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def under(cls, base: Path) -> Edge:
        return cls(base / "ca" / "rootCA.crt", base / "certs" / "server.crt", base / "certs" / "server.key")

    def files(self) -> dict:
        return {"ca_file": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file}


@pytest.fixture
def edge(tmp_path) -> Edge:
    return Edge.under(tmp_path / "edge")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def kubeedge_csr(node: str, *, cn: str | None = None, orgs: tuple[str, ...] = ("system:nodes",)) -> bytes:
    """A CSR as KubeEdge's edgecore builds it (RDN order C, ST, L, O, CN), made here independently."""
    key = pki.generate_key()
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Zhejiang"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Hangzhou"),
    ]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn or "system:node:%s" % node))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return pki.csr_to_der(csr)


def _read_response(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(4096)
    return status, headers, body


def raw_exchange(port: int, ctx: ssl.SSLContext, requests: list[bytes]) -> list[tuple[int, dict, bytes]]:
    """Sends each request as raw bytes on one TLS connection (no SNI, as Go to an IP) and reads the
    answers: the connection stays open between them, as Go's keep-alive pool keeps it."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        answers = []
        for request in requests:
            sock.sendall(request)
            answers.append(_read_response(sock))
        return answers


def go_request(port: int, path: str, *, headers: list[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    """The bytes Go's net/http sends for a GET (kubeedge-wire.md §2.2): header order and spelling."""
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "User-Agent: Go-http-client/1.1"]
    if body:
        lines.append("Content-Length: %d" % len(body))
    lines += ["%s: %s" % h for h in headers]
    lines.append("Accept-Encoding: gzip")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def request(
    cloud: Cloud,
    path: str,
    *,
    headers: list[tuple[str, str]] = (),
    body: bytes = b"",
    ctx: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    ctx = ctx or tls.client_ssl_context(cloud.certs.ca_cert_path)
    [(status, _, answer)] = await asyncio.to_thread(
        raw_exchange, cloud.port, ctx, [go_request(cloud.port, path, headers=headers, body=body)]
    )
    return status, answer


# -- join --------------------------------------------------------------------------------------------


async def test_join_writes_ca_certificate_and_key(cloud, edge):
    before = time.time()
    await certmanager.join(cloud.url, cloud.token(), "edge-node-1", **edge.files())
    ca_pem = edge.ca_file.read_bytes()
    assert ca_pem == pki.cert_to_pem(cloud.certs.ca_cert)  # the exact /ca.crt bytes, as PEM

    cert = pki.load_cert(edge.cert_file)
    key = pki.load_key(edge.key_file)
    assert edge.key_file.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert pki.cert_to_der(cert) and pki.issued_by(cert, cloud.certs.ca_cert)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert pki.cert_common_name(cert) == "system:node:edge-node-1"
    assert pki.cert_organizations(cert) == ["system:nodes"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)] == ["Hangzhou"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    not_after = cert.not_valid_after_utc.timestamp()
    assert before + 365 * DAY - 5 <= not_after <= time.time() + 365 * DAY + 5
    pki.verify_client_cert(cert, cloud.certs.ca_cert, now=dt.datetime.now(dt.UTC))

    for f in (edge.ca_file, edge.cert_file, edge.key_file):
        assert mode(f) == 0o600
    for d in (edge.ca_file.parent, edge.cert_file.parent):
        assert mode(d) == 0o700
    assert not [p for p in edge.cert_file.parent.iterdir() if p.name.startswith(".")]

    now = time.time()
    assert not certmanager.needs_join(edge.cert_file, edge.key_file, "edge-node-1", now)
    assert certmanager.needs_join(edge.cert_file, edge.key_file, "another-node", now)
    assert certmanager.needs_join(edge.cert_file, edge.key_file, "edge-node-1", not_after)
    not_before = cert.not_valid_before_utc.timestamp()
    deadline = certmanager.rotation_deadline(edge.cert_file, random.Random(1))
    assert (
        not_before + 0.7 * (not_after - not_before) <= deadline <= not_before + 0.9 * (not_after - not_before)
    )


async def test_request_built_exactly_like_kubeedge(cloud):
    """Two GETs on one kept-alive connection, the second with `Nodename` and a DER CSR as its body."""
    csr = kubeedge_csr("edge-node-1")
    ca_request = go_request(cloud.port, "/ca.crt")
    cert_request = go_request(
        cloud.port,
        "/edge.crt",
        headers=[("Authorization", "Bearer %s" % cloud.jwt()), ("Nodename", "edge-node-1")],
        body=csr,
    )
    ctx = tls.client_ssl_context(cloud.certs.ca_cert_path)
    (ca_status, ca_headers, ca_body), (status, _, body) = await asyncio.to_thread(
        raw_exchange, cloud.port, ctx, [ca_request, cert_request]
    )
    assert ca_status == 200 and ca_headers["content-type"] == "application/octet-stream"
    assert ca_body == cloud.certs.ca_der
    assert hashlib.sha256(ca_body).hexdigest() == cloud.token().split(".")[0]
    assert status == 200, body
    cert = x509.load_der_x509_certificate(body)  # DER, not PEM
    assert pki.cert_common_name(cert) == "system:node:edge-node-1"
    assert pki.issued_by(cert, cloud.certs.ca_cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)] == ["CN"]


async def test_idle_keepalive_connection_is_tolerated_and_closed_on_shutdown(tmp_path):
    """KubeEdge leaves its 10002 connections open until it exits; the server keeps serving them and
    still shuts down promptly with one idle."""
    cloud = await start_cloud(tmp_path / "cloud")
    ctx = tls.client_ssl_context(cloud.certs.ca_cert_path)
    raw = await asyncio.to_thread(socket.create_connection, ("127.0.0.1", cloud.port), 10)
    sock = await asyncio.to_thread(ctx.wrap_socket, raw, server_hostname="127.0.0.1")  # handshake
    try:
        for _ in range(2):
            await asyncio.to_thread(sock.sendall, go_request(cloud.port, "/ca.crt"))
            status, _, body = await asyncio.to_thread(_read_response, sock)
            assert status == 200 and body == cloud.certs.ca_der
        started = time.monotonic()
        await cloud.server.close()
        assert time.monotonic() - started < 5
        assert await asyncio.to_thread(sock.recv, 1) == b""  # closed by the server, cleanly
    finally:
        sock.close()


async def test_pem_csr_is_accepted(cloud):
    csr_pem = certdates.der_to_pem(kubeedge_csr("n1"), "CERTIFICATE REQUEST")
    headers = [("Authorization", "Bearer %s" % cloud.jwt()), ("NodeName", "n1")]
    status, body = await request(cloud, "/edge.crt", headers=headers, body=csr_pem)
    assert status == 200 and pki.cert_common_name(x509.load_der_x509_certificate(body)) == "system:node:n1"


async def test_bad_token_signature_is_refused(cloud, edge):
    forger, _ = pki.create_ca("forger", now=dt.datetime.now(dt.UTC))
    claims = tokens.issue_token(
        forger, pki.create_ca("x", now=dt.datetime.now(dt.UTC), key=forger)[1], now=time.time()
    )
    forged = cloud.token().split(".")[0] + "." + claims.split(".", 1)[1]  # right CA hash, wrong key
    with pytest.raises(JoinError, match=r"HTTP 401.*signature") as info:
        await certmanager.join(cloud.url, forged, "n1", **edge.files())
    assert "n1" in str(info.value)
    assert not edge.cert_file.exists() and not edge.key_file.exists()
    assert edge.ca_file.exists()  # like KubeEdge: the CA is written before /edge.crt is asked


async def test_expired_token_is_refused(cloud):
    expired = tokens.issue_token(cloud.certs.ca_key, cloud.certs.ca_cert, now=time.time() - 3 * DAY, ttl=DAY)
    headers = [("Authorization", "Bearer %s" % expired.split(".", 1)[1]), ("Nodename", "n1")]
    status, body = await request(cloud, "/edge.crt", headers=headers, body=kubeedge_csr("n1"))
    assert status == 401
    assert b"expired" in body


async def test_wrong_ca_hash_refuses_before_sending_the_csr(cloud, edge, caplog):
    caplog.set_level(logging.INFO, logger="kedge.cloud.cloudhub.certserver")
    wrong = "0" * 64 + "." + cloud.jwt()  # the JWT is even valid: only the CA pin is wrong
    with pytest.raises(JoinError) as info:
        await certmanager.join(cloud.url, wrong, "n1", **edge.files())
    message = str(info.value)
    assert "0" * 64 in message and hashlib.sha256(cloud.certs.ca_der).hexdigest() in message
    assert "nothing was written" in message
    assert not edge.ca_file.exists() and not edge.cert_file.exists() and not edge.key_file.exists()
    assert not [r for r in caplog.records if "certificate for node" in r.getMessage()]


async def test_malformed_token_is_refused_without_contacting_the_cloud(cloud, edge):
    with pytest.raises(JoinError, match="4"):
        await certmanager.join(cloud.url, "not-a-token", "n1", **edge.files())
    assert not edge.ca_file.exists()


async def test_csr_for_another_node_is_forbidden(cloud):
    headers = [("Authorization", "Bearer %s" % cloud.jwt()), ("Nodename", "n1")]
    status, body = await request(cloud, "/edge.crt", headers=headers, body=kubeedge_csr("n2"))
    assert status == 403 and b"system:node:n2" in body
    masters = kubeedge_csr("n1", orgs=("system:nodes", "system:masters"))
    status, body = await request(cloud, "/edge.crt", headers=headers, body=masters)
    assert status == 400 and b"system:masters" in body


@pytest.mark.parametrize(
    ("headers", "body", "status", "needle"),
    [
        ([("Authorization", "Bearer {jwt}")], "csr", 400, b"missing NodeName"),
        ([("Authorization", "Bearer {jwt}"), ("Nodename", "Bad_Name")], "csr", 400, b"not a valid node name"),
        ([("Authorization", "Bearer {jwt}"), ("Nodename", "n1")], "", 400, b"empty body"),
        ([("Authorization", "Bearer {jwt}"), ("Nodename", "n1")], "garbage", 400, b"PKCS#10"),
        ([("Nodename", "n1")], "csr", 401, b"no Authorization header and no client certificate"),
        ([("Authorization", "Basic dTpw"), ("Nodename", "n1")], "csr", 401, b"Bearer"),
        ([("Authorization", "Bearer {token}"), ("Nodename", "n1")], "csr", 401, b"without its CA hash"),
    ],
)
async def test_bad_requests_are_named(cloud, headers, body, status, needle):
    values = {"jwt": cloud.jwt(), "token": cloud.token()}
    headers = [(k, v.format(**values)) for k, v in headers]
    payload = {"csr": kubeedge_csr("n1"), "": b"", "garbage": b"\x30\x03abc"}[body]
    got, answer = await request(cloud, "/edge.crt", headers=headers, body=payload)
    assert got == status, answer
    assert needle in answer


async def test_existing_node_name_is_refused_unless_allowed(cloud, edge):
    with pytest.raises(NodeExistsError, match=EXISTING):
        await certmanager.join(cloud.url, cloud.token(), EXISTING, allow_existing=False, **edge.files())
    assert not edge.cert_file.exists()
    await certmanager.join(cloud.url, cloud.token(), "fresh-node", allow_existing=False, **edge.files())
    await certmanager.join(cloud.url, cloud.token(), EXISTING, **edge.files())
    assert pki.cert_common_name(pki.load_cert(edge.cert_file)) == "system:node:%s" % EXISTING


async def test_node_lookup(cloud):
    assert await request(cloud, "/node/%s" % EXISTING) == (200, b"Node found\n")
    status, _ = await request(cloud, "/node/absent")
    assert status == 404
    status, _ = await request(cloud, "/node/Not_A_Name")
    assert status == 404
    status, body = await request(cloud, "/node/lookup-fails")
    assert status == 503 and b"unreachable" in body


# -- rotation ----------------------------------------------------------------------------------------


async def test_rotation_with_the_current_certificate(cloud, edge):
    await certmanager.join(cloud.url, cloud.token(), "n1", **edge.files())
    old_cert, old_key = edge.cert_file.read_bytes(), edge.key_file.read_bytes()
    await certmanager.rotate(cloud.url, "n1", **edge.files())
    assert edge.cert_file.read_bytes() != old_cert and edge.key_file.read_bytes() != old_key
    new = pki.load_cert(edge.cert_file)
    assert pki.cert_common_name(new) == "system:node:n1" and pki.issued_by(new, cloud.certs.ca_cert)
    assert not certmanager.needs_join(edge.cert_file, edge.key_file, "n1", time.time())
    assert mode(edge.cert_file) == 0o600 and mode(edge.key_file) == 0o600


async def test_rotation_with_another_nodes_certificate_is_refused(cloud, edge):
    await certmanager.join(cloud.url, cloud.token(), "n2", **edge.files())
    before = edge.cert_file.read_bytes(), edge.key_file.read_bytes()
    with pytest.raises(RotationError, match=r"HTTP 403.*system:node:n2"):
        await certmanager.rotate(cloud.url, "n1", **edge.files())
    assert (edge.cert_file.read_bytes(), edge.key_file.read_bytes()) == before


async def test_client_certificate_from_another_ca_fails_the_handshake(cloud, edge, tmp_path):
    await certmanager.join(cloud.url, cloud.token(), "n1", **edge.files())
    stranger_key, stranger_ca = pki.create_ca("KubeEdge", now=dt.datetime.now(dt.UTC))
    key, cert = pki.issue_client_cert(
        stranger_key,
        stranger_ca,
        common_name="system:node:n1",
        organizations=["system:nodes"],
        now=dt.datetime.now(dt.UTC),
    )
    pki.write_pem(edge.cert_file, pki.cert_to_pem(cert))
    pki.write_pem(edge.key_file, pki.key_to_pem(key))
    with pytest.raises(RotationError, match=r"GET .*/edge\.crt failed"):
        await certmanager.rotate(cloud.url, "n1", **edge.files())
    ctx = tls.client_ssl_context(edge.ca_file, edge.cert_file, edge.key_file)
    csr_request = go_request(cloud.port, "/edge.crt", headers=[("Nodename", "n1")], body=kubeedge_csr("n1"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.to_thread(raw_exchange, cloud.port, ctx, [csr_request])


async def test_server_is_verified_against_the_fetched_ca(cloud, edge, tmp_path):
    """A second cloud with another CA: the token pins the first one, so the edge refuses the second."""
    other = await start_cloud(tmp_path / "other-cloud")
    try:
        with pytest.raises(JoinError, match="sha256"):
            await certmanager.join(other.url, cloud.token(), "n1", **edge.files())
        # And with the first CA on disk, rotation against the impostor fails server verification.
        await certmanager.join(cloud.url, cloud.token(), "n1", **edge.files())
        with pytest.raises(RotationError, match="does not verify against the cloud CA"):
            await certmanager.rotate(other.url, "n1", **edge.files())
    finally:
        await other.server.close()


def test_edge_module_does_not_import_cryptography_or_aiohttp():
    code = (
        "import sys, kedge.edge.edgehub.certmanager; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'cryptography', 'aiohttp'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# -- the commands ------------------------------------------------------------------------------------


class ThreadedCloud:
    """The cert server on its own loop in a thread, so `kedge join` (which runs its own loop) can reach it."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cloud = asyncio.run_coroutine_threadsafe(start_cloud(data_dir), self.loop).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.cloud.server.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture
def threaded_cloud(tmp_path):
    tc = ThreadedCloud(tmp_path / "cloud")
    yield tc.cloud
    tc.close()


def join_argv(cloud: Cloud, token: str, node: str, data_dir: Path, *extra: str) -> list[str]:
    return [
        "join",
        "--cloudcore-ipport",
        "127.0.0.1:10000",
        "--certport",
        str(cloud.port),
        "--token",
        token,
        "--edgenode-name",
        node,
        "--data-dir",
        str(data_dir),
        *extra,
    ]


def test_gettoken_prints_the_running_clouds_token(tmp_path, capsys):
    data = tmp_path / "cloud"
    assert main(["gettoken", "--data-dir", str(data)]) == 0
    first = capsys.readouterr().out.strip()
    token_file = data / "cloudhub" / "token"
    assert token_file.read_text().strip() == first and mode(token_file) == 0o600
    assert main(["gettoken", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.strip() == first  # still valid: printed, not re-minted
    ca = pki.load_cert(data / "cloudhub" / "pki" / "rootCA.crt")
    ca_key = pki.load_key(data / "cloudhub" / "pki" / "rootCA.key")
    assert first.split(".")[0] == tokens.ca_hash(ca)
    claims = tokens.verify_jwt(first.split(".", 1)[1], ca_key, now=time.time())
    assert claims["exp"] == pytest.approx(time.time() + 2 * 12 * 3600, abs=60)
    # A token about to expire (or expired) in the file is replaced by a fresh one.
    stale = tokens.issue_token(ca_key, ca, now=time.time() - DAY + 60, ttl=DAY)
    token_file.write_text(stale + "\n")
    assert main(["gettoken", "--data-dir", str(data)]) == 0
    renewed = capsys.readouterr().out.strip()
    assert renewed != stale
    assert token_file.read_text().strip() == renewed
    assert tokens.verify_jwt(renewed.split(".", 1)[1], ca_key, now=time.time() + DAY - 120)


def test_gettoken_console_path(tmp_path):
    data = tmp_path / "cloud"
    proc = subprocess.run(
        [sys.executable, "-m", "kedge", "gettoken", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token == (data / "cloudhub" / "token").read_text().strip()
    assert len(token.split(".")) == 4


def test_cli_join_then_reset(threaded_cloud, tmp_path, capsys, monkeypatch):
    cloud = threaded_cloud
    assert main(["gettoken", "--data-dir", str(tmp_path / "cloud")]) == 0
    token = capsys.readouterr().out.strip()
    data = tmp_path / "edge"
    assert main(join_argv(cloud, token, "edge-1", data, "--runtime", "process")) == 0
    out = capsys.readouterr().out
    assert "node edge-1 joined" in out

    cfg, warnings = config.load_edgecore(data / "edgecore.yaml")
    assert warnings == []
    hub = cfg.modules.edge_hub
    assert hub.token == ""
    assert hub.websocket.enable and not hub.quic.enable
    assert hub.websocket.server == "127.0.0.1:10000" and hub.quic.server == "127.0.0.1:10001"
    assert hub.http_server == "https://127.0.0.1:%d" % cloud.port
    assert (hub.tls_ca_file, hub.tls_cert_file, hub.tls_private_key_file) == (
        str(data / "ca" / "rootCA.crt"),
        str(data / "certs" / "server.crt"),
        str(data / "certs" / "server.key"),
    )
    assert cfg.database.data_source == str(data / "edgecore.db")
    assert cfg.modules.edged.hostname_override == "edge-1" and cfg.modules.edged.runtime == "process"
    assert not certmanager.needs_join(hub.tls_cert_file, hub.tls_private_key_file, "edge-1", time.time())

    # Joining over a joined directory needs a reset first (or --force).
    assert main(join_argv(cloud, token, "edge-1", data)) == 1
    assert "kedge reset" in capsys.readouterr().err

    (data / "edgecore.db").write_bytes(b"")
    (data / "edgecore.db-wal").write_bytes(b"")
    (data / "keep.txt").write_text("not ours")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["reset", "--data-dir", str(data)]) == 2  # no terminal to confirm on
    assert "--force" in capsys.readouterr().err and (data / "edgecore.yaml").exists()

    assert main(["reset", "--data-dir", str(data), "--force"]) == 0
    out = capsys.readouterr().out
    for name in (
        "edgecore.yaml",
        "certs/server.crt",
        "certs/server.key",
        "ca/rootCA.crt",
        "edgecore.db",
        "edgecore.db-wal",
    ):
        assert "removed %s" % (data / name) in out
        assert not (data / name).exists()
    assert not (data / "certs").exists() and not (data / "ca").exists()
    assert (data / "keep.txt").read_text() == "not ours"
    assert main(["reset", "--data-dir", str(data), "--force"]) == 0
    assert "nothing to reset" in capsys.readouterr().out


def test_cli_join_failures_leave_no_certificate(threaded_cloud, tmp_path, capsys):
    cloud = threaded_cloud
    data = tmp_path / "edge"
    expired = tokens.issue_token(cloud.certs.ca_key, cloud.certs.ca_cert, now=time.time() - 3 * DAY, ttl=DAY)
    assert main(join_argv(cloud, expired, "edge-1", data)) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "expired" in err
    assert not data.exists()  # a failed join writes nothing (KubeEdge would leave the CA behind)

    token = cloud.token()
    assert main(join_argv(cloud, token, EXISTING, data)) == 1
    assert "already has a node named %s" % EXISTING in capsys.readouterr().err
    assert not (data / "certs" / "server.crt").exists() and not (data / "edgecore.yaml").exists()
    assert main(join_argv(cloud, token, EXISTING, data, "--force")) == 0
    assert (data / "certs" / "server.crt").exists()

    assert main(join_argv(cloud, token, "Bad_Name", tmp_path / "e2")) == 2
    assert "hostnameOverride" in capsys.readouterr().err
    assert main(["join", "--cloudcore-ipport", "no-port", "--token", token, "--edgenode-name", "n"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_cli_join_over_quic(threaded_cloud, tmp_path, capsys):
    cloud = threaded_cloud
    data = tmp_path / "edge"
    argv = join_argv(cloud, cloud.token(), "edge-q", data, "--hub-protocol", "quic", "--quicport", "4433")
    assert main(argv) == 0
    cfg, _ = config.load_edgecore(data / "edgecore.yaml")
    assert cfg.hub_protocol == "quic" and cfg.hub_server == "127.0.0.1:4433"
