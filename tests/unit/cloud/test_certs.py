"""kedge.cloud.cloudhub.certs: where CloudHub keeps its CA and serving certificate, what the certificate
covers, when it is re-issued, and the join token file."""

import datetime as dt
import hashlib
import json
import socket
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from kedge.cloud.cloudhub import certs as hubcerts
from kedge.cloud.cloudhub.certs import CertPaths, CloudCerts
from kedge.config.cloudcore import CloudHub
from kedge.security import pki, tokens
from kedge.security.errors import PKIError

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
HOUR = 3600.0


def sans(path: Path) -> tuple[set[str], set[str]]:
    san = pki.load_cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(a) for a in san.get_values_for_type(x509.IPAddress)
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(tmp_path: Path, hub: CloudHub | None = None, *, now=NOW, listen=("0.0.0.0",)) -> CloudCerts:
    return CloudCerts.load_or_create(hub or CloudHub(), tmp_path / "data", now=now, listen_hosts=list(listen))


# -- paths -------------------------------------------------------------------------------------------


def test_kubeedge_default_paths_move_into_the_data_dir(tmp_path):
    paths = CertPaths.resolve(CloudHub(), tmp_path)
    pki_dir = tmp_path / "cloudhub" / "pki"
    assert paths.ca_cert_path == pki_dir / "rootCA.crt"
    assert paths.ca_key_path == pki_dir / "rootCA.key"
    assert paths.cert_path == pki_dir / "server.crt"
    assert paths.key_path == pki_dir / "server.key"
    assert paths.token_path == tmp_path / "cloudhub" / "token"


def test_configured_paths_are_used_as_given(tmp_path):
    hub = CloudHub(tls_ca_file=str(tmp_path / "etc" / "my-ca.pem"), tls_cert_file=str(tmp_path / "hub.pem"))
    paths = CertPaths.resolve(hub, tmp_path / "data")
    assert paths.ca_cert_path == tmp_path / "etc" / "my-ca.pem"
    assert paths.cert_path == tmp_path / "hub.pem"
    # The two left at KubeEdge's defaults still go to the data directory.
    assert paths.ca_key_path == tmp_path / "data" / "cloudhub" / "pki" / "rootCA.key"
    assert paths.key_path == tmp_path / "data" / "cloudhub" / "pki" / "server.key"


# -- first start and reload --------------------------------------------------------------------------


def test_first_start_creates_a_kubeedge_like_ca_and_serving_cert(tmp_path):
    c = load(tmp_path, listen=("0.0.0.0", "10.1.2.3", "::"))
    assert pki.cert_common_name(c.ca_cert) == "KubeEdge"
    assert isinstance(c.ca_key, ec.EllipticCurvePrivateKey) and c.ca_key.curve.name == "secp256r1"
    assert c.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = c.ca_cert.not_valid_after_utc - c.ca_cert.not_valid_before_utc
    assert lifetime > dt.timedelta(days=99 * 365)
    assert c.ca_der == pki.cert_to_der(pki.load_cert(c.ca_cert_path))

    server = pki.load_cert(c.cert_path)
    assert pki.cert_common_name(server) == "KubeEdge"
    assert pki.issued_by(server, c.ca_cert)
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    dns, ips = sans(c.cert_path)
    assert ips == {"127.0.0.1", "10.1.2.3"}  # wildcards are not addresses anyone dials
    assert dns == {"localhost", socket.gethostname().lower()}
    assert mode(c.ca_key_path) == 0o600 and mode(c.key_path) == 0o600
    assert mode(c.ca_cert_path.parent) == 0o700


def test_reload_keeps_ca_and_serving_cert(tmp_path):
    first = load(tmp_path)
    files = {
        p: p.read_bytes() for p in (first.ca_cert_path, first.ca_key_path, first.cert_path, first.key_path)
    }
    second = load(tmp_path, now=NOW + dt.timedelta(days=100))
    assert pki.cert_to_der(second.ca_cert) == first.ca_der
    assert {p: p.read_bytes() for p in files} == files


def test_serving_cert_is_reissued_when_it_stops_covering_the_listen_hosts(tmp_path):
    first = load(tmp_path, listen=("10.0.0.1",))
    old = first.cert_path.read_bytes()
    second = load(tmp_path, listen=("10.0.0.2",))
    assert second.cert_path.read_bytes() != old
    assert "10.0.0.2" in sans(second.cert_path)[1]
    assert pki.cert_to_der(second.ca_cert) == first.ca_der  # the CA never changes


def test_serving_cert_is_reissued_near_expiry(tmp_path):
    first = load(tmp_path)
    old = first.cert_path.read_bytes()
    load(tmp_path, now=NOW + dt.timedelta(days=340))  # within 30 days of the 365-day lifetime
    assert first.cert_path.read_bytes() != old


def test_advertise_address_and_dns_names_replace_the_local_names(tmp_path):
    hub = CloudHub(advertise_address=["192.0.2.10"], dns_names=["cloud.example.com", "198.51.100.7"])
    c = load(tmp_path, hub, listen=("10.9.9.9",))
    dns, ips = sans(c.cert_path)
    assert ips == {"192.0.2.10", "198.51.100.7"}  # an address among dnsNames is filed as an address
    assert dns == {"cloud.example.com"}
    assert (c.dns_names, c.ip_addresses) == (["cloud.example.com"], ["192.0.2.10", "198.51.100.7"])


def test_configured_paths_of_any_shape(tmp_path):
    """Names that are not <dir>/<name>.crt + <name>.key go through kedge's own pair handling."""
    hub = CloudHub(
        tls_ca_file=str(tmp_path / "ca" / "ca.pem"),
        tls_ca_key_file=str(tmp_path / "ca" / "ca-key.pem"),
        tls_cert_file=str(tmp_path / "tls" / "hub-cert.pem"),
        tls_private_key_file=str(tmp_path / "tls" / "hub-key.pem"),
    )
    c = load(tmp_path, hub, listen=("10.0.0.1",))
    assert c.cert_path == tmp_path / "tls" / "hub-cert.pem" and c.key_path == tmp_path / "tls" / "hub-key.pem"
    assert pki.issued_by(pki.load_cert(c.cert_path), c.ca_cert)
    assert mode(c.key_path) == 0o600
    assert not list((tmp_path / "tls").glob(".*"))  # no staging files left behind
    before = c.cert_path.read_bytes()
    load(tmp_path, hub, listen=("10.0.0.1",))
    assert c.cert_path.read_bytes() == before
    load(tmp_path, hub, listen=("10.0.0.7",))
    assert "10.0.0.7" in sans(c.cert_path)[1]
    # A key that is not the certificate's is the operator's to sort out, not overwritten.
    c.key_path.write_bytes(pki.key_to_pem(pki.generate_key()))
    with pytest.raises(PKIError, match="does not belong to"):
        load(tmp_path, hub, listen=("10.0.0.7",))


def test_a_serving_cert_from_another_ca_is_replaced(tmp_path):
    c = load(tmp_path)
    other_key, other_ca = pki.create_ca("someone-else", now=NOW)
    key, cert = pki.issue_server_cert(
        other_key, other_ca, common_name="x", dns_names=["localhost"], ip_addresses=["127.0.0.1"], now=NOW
    )
    pki.write_pem(c.cert_path, pki.cert_to_pem(cert))
    pki.write_pem(c.key_path, pki.key_to_pem(key))
    load(tmp_path)
    assert pki.issued_by(pki.load_cert(c.cert_path), c.ca_cert)


# -- the CA is never replaced ------------------------------------------------------------------------


def test_ca_certificate_without_its_key_is_refused(tmp_path):
    c = load(tmp_path)
    c.ca_key_path.unlink()
    with pytest.raises(PKIError, match="without its key"):
        load(tmp_path)


def test_ca_key_without_certificate_gets_one(tmp_path):
    c = load(tmp_path)
    c.ca_cert_path.unlink()
    again = load(tmp_path)
    assert pki.cert_to_der(again.ca_cert) != c.ca_der
    assert again.ca_key.private_numbers() == c.ca_key.private_numbers()


def test_expired_or_non_ca_certificates_are_refused(tmp_path):
    load(tmp_path)
    with pytest.raises(PKIError, match="expired"):
        load(tmp_path, now=NOW + dt.timedelta(days=101 * 365))
    c = load(tmp_path)
    key, leaf = pki.issue_client_cert(c.ca_key, c.ca_cert, common_name="leaf", organizations=[], now=NOW)
    pki.write_pem(c.ca_cert_path, pki.cert_to_pem(leaf))
    pki.write_pem(c.ca_key_path, pki.key_to_pem(key))
    with pytest.raises(PKIError, match="not a CA"):
        load(tmp_path)


def test_unreadable_ca_is_named(tmp_path):
    c = load(tmp_path)
    c.ca_cert_path.write_bytes(b"not a certificate")
    with pytest.raises(PKIError, match=str(c.ca_cert_path)):
        load(tmp_path)


# -- tokens ------------------------------------------------------------------------------------------


def _claims(token: str) -> dict:
    import base64

    segment = token.split(".")[2]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_token_ring_lives_twice_the_refresh(tmp_path):
    c = load(tmp_path)
    ring = c.token_ring(12)
    now = NOW.timestamp()
    token = ring.current(now)
    assert token.split(".")[0] == hashlib.sha256(c.ca_der).hexdigest()
    assert _claims(token)["exp"] == int(now + 24 * HOUR)
    assert ring.current(now + 11 * HOUR) == token
    assert ring.current(now + 12 * HOUR) != token
    assert ring.verify(token.split(".", 1)[1], now + 23 * HOUR)  # the old one still works


def test_token_usable(tmp_path):
    c = load(tmp_path)
    now = NOW.timestamp()
    token = tokens.issue_token(c.ca_key, c.ca_cert, now=now, ttl=HOUR)
    assert hubcerts.token_usable(token, c.ca_key, c.ca_cert, now)
    assert not hubcerts.token_usable(token, c.ca_key, c.ca_cert, now + HOUR)
    other_key, other_ca = pki.create_ca("other", now=NOW)
    foreign = tokens.issue_token(other_key, other_ca, now=now)
    assert not hubcerts.token_usable(foreign, c.ca_key, c.ca_cert, now)
    # Signed by our key but naming another CA: the edge would reject the CA, so do not hand it out.
    hash_swapped = foreign.split(".")[0] + "." + token.split(".", 1)[1]
    assert not hubcerts.token_usable(hash_swapped, c.ca_key, c.ca_cert, now)
    assert not hubcerts.token_usable("garbage", c.ca_key, c.ca_cert, now)


def test_token_file_is_private_and_atomic(tmp_path):
    path = tmp_path / "data" / "cloudhub" / "token"
    hubcerts.write_token(path, "abc.def")
    assert path.read_text() == "abc.def\n"
    assert mode(path) == 0o600
    assert hubcerts.read_token(path) == "abc.def"
    assert hubcerts.read_token(tmp_path / "missing") is None
    path.write_text("  \n")
    assert hubcerts.read_token(path) is None


class _Stop(Exception):
    pass


async def test_token_rotation_writes_each_new_token(tmp_path):
    c = load(tmp_path)
    ring = c.token_ring(1)
    clock = [NOW.timestamp()]
    seen: list[str] = []

    async def sleep(seconds: float) -> None:
        seen.append(c.token_path.read_text().strip())
        if len(seen) == 4:
            raise _Stop
        clock[0] += 1800  # half the refresh

    with pytest.raises(_Stop):
        await hubcerts.run_token_rotation(ring, c.token_path, clock=lambda: clock[0], sleep=sleep)
    # t=0 and t=0.5h: the first token; t=1h and t=1.5h: its successor.
    assert seen[0] == seen[1] != seen[2] == seen[3]
    assert mode(c.token_path) == 0o600
    for token in set(seen):
        assert hubcerts.token_usable(token, c.ca_key, c.ca_cert, clock[0])


async def test_token_rotation_survives_a_failed_write(tmp_path, caplog):
    c = load(tmp_path)
    ring = c.token_ring(1)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    target = blocked / "token"  # its parent is a file: every write fails
    calls = 0

    async def sleep(seconds: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise _Stop

    with pytest.raises(_Stop):
        await hubcerts.run_token_rotation(ring, target, clock=lambda: NOW.timestamp(), sleep=sleep)
    assert sum("cannot write the join token" in r.getMessage() for r in caplog.records) == 2
