"""kedge.security.pki: certificates as specified, CSR signing, files, renewal and TLS between contexts."""

import datetime as dt
import hashlib
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

from kedge.security import files, pki
from kedge.security.pki import PKIError

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def ca() -> tuple[pki.PrivateKey, x509.Certificate]:
    return pki.create_ca("kedge-test-ca", now=NOW)


@pytest.fixture(scope="module")
def other_ca() -> tuple[pki.PrivateKey, x509.Certificate]:
    return pki.create_ca("someone-else", now=NOW)


def ext(cert: x509.Certificate, cls: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def server_verifier(ca_cert: x509.Certificate, name: x509.verification.Subject, at: dt.datetime = NOW):
    return PolicyBuilder().store(Store([ca_cert])).time(at).build_server_verifier(name)


def edge_csr(key: pki.PrivateKey, node: str = "edge-node-1") -> x509.CertificateSigningRequest:
    """A CSR shaped like edgecore's: C, ST, L, O, CN in that order, no extensions."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Zhejiang"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Hangzhou"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, "system:node:%s" % node),
        ]
    )
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())


# -- the CA ------------------------------------------------------------------------------------------


def test_ca_is_a_p256_self_signed_ca(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    key, cert = ca
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert cert.subject.rfc4514_string() == "CN=kedge-test-ca" == cert.issuer.rfc4514_string()
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert (ku.value.key_cert_sign, ku.value.crl_sign, ku.value.digital_signature) == (True, True, True)
    assert not ku.value.key_encipherment
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + 3650 * DAY
    assert pki.issued_by(cert, cert)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.create_ca("x", now=dt.datetime(2026, 5, 1))


# -- serving certificates ----------------------------------------------------------------------------


def test_server_cert_verifies_for_each_name(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = ca
    key, cert = pki.issue_server_cert(
        ca_key, ca_cert, common_name="kedge-apiserver", dns_names=["localhost", "kedge.local"],
        ip_addresses=["127.0.0.1", "::1"], now=NOW,
    )  # fmt: skip
    assert pki._same_public_key(key.public_key(), cert.public_key())
    for subject in (
        DNSName("localhost"),
        DNSName("kedge.local"),
        IPAddress(ipaddress.ip_address("127.0.0.1")),
    ):
        chain = server_verifier(ca_cert, subject).verify(cert, [])
        assert chain == [cert, ca_cert]
    with pytest.raises(VerificationError):
        server_verifier(ca_cert, DNSName("example.com")).verify(cert, [])
    with pytest.raises(VerificationError):
        server_verifier(ca_cert, DNSName("localhost"), NOW + 366 * DAY).verify(cert, [])
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "kedge.local"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca_cert, x509.SubjectKeyIdentifier).value.digest
    assert not ext(cert, x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc == NOW + 365 * DAY


def test_serials_are_random(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    serials = {
        pki.issue_server_cert(*ca, common_name="s", dns_names=["s"], ip_addresses=[], now=NOW)[
            1
        ].serial_number
        for _ in range(3)
    }
    assert len(serials) == 3
    assert all(s.bit_length() > 64 for s in serials)


def test_server_cert_needs_a_name_and_valid_addresses(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    with pytest.raises(PKIError, match="needs at least one DNS name or IP address"):
        pki.issue_server_cert(*ca, common_name="s", dns_names=[], ip_addresses=[], now=NOW)
    with pytest.raises(PKIError, match=r"'300\.1\.1\.1' is not an IP address"):
        pki.issue_server_cert(*ca, common_name="s", dns_names=[], ip_addresses=["300.1.1.1"], now=NOW)


def test_issuing_with_a_key_that_is_not_the_cas(ca, other_ca) -> None:
    with pytest.raises(PKIError, match="CA key does not belong to the CA certificate CN=kedge-test-ca"):
        pki.issue_server_cert(other_ca[0], ca[1], common_name="s", dns_names=["s"], ip_addresses=[], now=NOW)


def test_a_leaf_cannot_issue(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    key, leaf = pki.issue_server_cert(*ca, common_name="s", dns_names=["s"], ip_addresses=[], now=NOW)
    with pytest.raises(PKIError, match="CN=s is not a CA certificate"):
        pki.issue_client_cert(key, leaf, common_name="c", organizations=[], now=NOW)


# -- client certificates -----------------------------------------------------------------------------


def test_edge_client_cert(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    key, cert = pki.issue_client_cert(
        *ca, common_name="system:node:edge-1", organizations=["system:nodes"], days=365, now=NOW
    )
    assert key is not None
    assert cert.subject.rfc4514_string() == "CN=system:node:edge-1,O=system:nodes"
    assert pki.cert_common_name(cert) == "system:node:edge-1"
    assert pki.cert_organizations(cert) == ["system:nodes"]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = ext(cert, x509.KeyUsage).value
    assert (ku.digital_signature, ku.key_encipherment, ku.key_cert_sign) == (True, True, False)
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.SubjectAlternativeName)
    pki.verify_client_cert(cert, ca[1], now=NOW)


def test_client_cert_for_a_given_public_key(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    mine = pki.generate_key()
    key, cert = pki.issue_client_cert(
        *ca,
        common_name="admin",
        organizations=["system:masters", "kedge"],
        now=NOW,
        public_key=mine.public_key(),
    )
    assert key is None
    assert pki._same_public_key(cert.public_key(), mine.public_key())
    assert pki.cert_organizations(cert) == ["system:masters", "kedge"]
    weak = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(PKIError, match="the public key to certify has an ECDSA secp384r1 key"):
        pki.issue_client_cert(*ca, common_name="x", organizations=[], now=NOW, public_key=weak)


def test_verify_client_cert_refuses_what_it_should(ca, other_ca) -> None:
    _, theirs = pki.issue_client_cert(
        *other_ca, common_name="system:node:e", organizations=["system:nodes"], now=NOW
    )
    with pytest.raises(
        PKIError, match="client certificate CN=system:node:e,O=system:nodes is not valid for CA"
    ):
        pki.verify_client_cert(theirs, ca[1], now=NOW)
    _, mine = pki.issue_client_cert(*ca, common_name="system:node:e", organizations=["system:nodes"], now=NOW)
    with pytest.raises(PKIError, match="not valid for CA CN=kedge-test-ca"):
        pki.verify_client_cert(mine, ca[1], now=NOW + 400 * DAY)
    _, serving = pki.issue_server_cert(*ca, common_name="s", dns_names=["s"], ip_addresses=[], now=NOW)
    with pytest.raises(PKIError):
        pki.verify_client_cert(serving, ca[1], now=NOW)


# -- CSR signing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["der", "pem"])
def test_sign_edge_csr(ca: tuple[pki.PrivateKey, x509.Certificate], encoding: str) -> None:
    key = pki.generate_key()
    csr = edge_csr(key)
    data = pki.csr_to_der(csr) if encoding == "der" else csr.public_bytes(serialization.Encoding.PEM)
    cert = pki.sign_csr(*ca, data, now=NOW, common_name="system:node:edge-node-1")
    assert cert.subject == csr.subject
    assert (
        cert.subject.rfc4514_string()
        == "CN=system:node:edge-node-1,O=system:nodes,L=Hangzhou,ST=Zhejiang,C=CN"
    )
    assert pki._same_public_key(cert.public_key(), key.public_key())
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc == NOW + 365 * DAY
    pki.verify_client_cert(cert, ca[1], now=NOW)


def test_tampered_csr_is_refused(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    der = pki.csr_to_der(edge_csr(pki.generate_key(), "edge-node-1"))
    forged = der.replace(b"system:node:edge-node-1", b"system:node:edge-node-2")
    assert forged != der and x509.load_der_x509_csr(forged).subject != x509.load_der_x509_csr(der).subject
    with pytest.raises(PKIError, match="signature is invalid"):
        pki.sign_csr(*ca, forged, now=NOW)


def test_csr_key_types(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    rsa_ok = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = pki.sign_csr(*ca, pki.csr_to_der(edge_csr(rsa_ok)), now=NOW)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    rsa_weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(
        PKIError, match="has a 1024-bit RSA key; use ECDSA P-256 or RSA of at least 2048 bits"
    ):
        pki.sign_csr(*ca, pki.csr_to_der(edge_csr(rsa_weak)), now=NOW)
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(PKIError, match="has an ECDSA secp384r1 key"):
        pki.sign_csr(*ca, pki.csr_to_der(edge_csr(p384)), now=NOW)


def test_csr_subject_checks(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    key = pki.generate_key()
    no_cn = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes")])
    )
    with pytest.raises(PKIError, match="needs exactly one non-empty common name"):
        pki.sign_csr(*ca, pki.csr_to_der(no_cn.sign(key, hashes.SHA256())), now=NOW)
    with pytest.raises(PKIError, match="is for CN=system:node:edge-node-1, expected CN=system:node:other"):
        pki.sign_csr(*ca, pki.csr_to_der(edge_csr(key)), now=NOW, common_name="system:node:other")


def test_garbage_csr(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    with pytest.raises(PKIError, match="not a valid PKCS#10 request"):
        pki.sign_csr(*ca, b"\x30\x03garbage", now=NOW)
    with pytest.raises(PKIError, match="not a valid PKCS#10 request"):
        pki.sign_csr(
            *ca, b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", now=NOW
        )


def test_server_csr_keeps_its_names_client_csr_drops_them(
    ca: tuple[pki.PrivateKey, x509.Certificate],
) -> None:
    csr = pki.create_csr(
        pki.generate_key(), common_name="svc", dns_names=["svc.local"], ip_addresses=["10.0.0.1"]
    )
    served = pki.sign_csr(*ca, pki.csr_to_der(csr), now=NOW, usages="server")
    assert list(ext(served, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    server_verifier(ca[1], DNSName("svc.local")).verify(served, [])
    server_verifier(ca[1], IPAddress(ipaddress.ip_address("10.0.0.1"))).verify(served, [])
    client = pki.sign_csr(*ca, pki.csr_to_der(csr), now=NOW, usages="client")
    with pytest.raises(x509.ExtensionNotFound):
        ext(client, x509.SubjectAlternativeName)
    bare = pki.create_csr(pki.generate_key(), common_name="svc")
    with pytest.raises(
        PKIError, match="serving certificate request for CN=svc names no DNS name or IP address"
    ):
        pki.sign_csr(*ca, pki.csr_to_der(bare), now=NOW, usages="server")
    with pytest.raises(ValueError, match="usages must be 'client' or 'server'"):
        pki.sign_csr(*ca, pki.csr_to_der(bare), now=NOW, usages="both")  # type: ignore[arg-type]


# -- encodings ---------------------------------------------------------------------------------------


def test_encodings_round_trip(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    key, cert = ca
    pem = pki.key_to_pem(key)
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----\n")
    assert len(pki.key_to_der(key)) == 121  # SEC1 P-256, the join token's HMAC secret
    assert pki._same_public_key(pki.parse_key(pem).public_key(), key.public_key())
    assert pki._same_public_key(pki.parse_key(pki.key_to_der(key)).public_key(), key.public_key())
    assert pki.parse_cert(pki.cert_to_pem(cert)) == cert == pki.parse_cert(pki.cert_to_der(cert))
    assert pki.cert_to_pem(cert).startswith(b"-----BEGIN CERTIFICATE-----\n")


def test_fingerprint_is_sha256_of_der(ca: tuple[pki.PrivateKey, x509.Certificate]) -> None:
    fp = pki.cert_fingerprint_sha256(ca[1])
    assert fp == hashlib.sha256(pki.cert_to_der(ca[1])).hexdigest()
    assert len(fp) == 64 and fp == fp.lower()


def test_unsupported_and_encrypted_keys() -> None:
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PKIError, match="Ed25519PrivateKey is not supported"):
        pki.parse_key(ed)
    locked = pki.generate_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(PKIError, match="encrypted"):
        pki.parse_key(locked)


# -- files -------------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_pem_is_private_and_creates_private_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "server.key"
    pki.write_pem(target, b"one")
    assert target.read_bytes() == b"one"
    assert mode(target) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    pki.write_pem(target, b"two", mode=0o644)
    assert target.read_bytes() == b"two" and mode(target) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["server.key"]


def test_write_pem_leaves_old_content_and_no_debris_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ca.key"
    pki.write_pem(target, b"old")

    def no_rename(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(files.os, "replace", no_rename)  # the atomic writer pki uses
    with pytest.raises(PKIError, match=r"cannot write .*ca.key: No space left on device"):
        pki.write_pem(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ca.key"]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match=r"missing\.key: no such private key file"):
        pki.load_key(tmp_path / "missing.key")
    with pytest.raises(PKIError, match=r"missing\.crt: no such certificate file"):
        pki.load_cert(tmp_path / "missing.crt")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(PKIError, match=r"junk\.pem: not a PEM or DER certificate"):
        pki.load_cert(junk)
    with pytest.raises(PKIError, match=r"junk\.pem: not a PEM or DER private key"):
        pki.load_key(junk)


# -- ensure_ca ---------------------------------------------------------------------------------------


def test_ensure_ca_creates_then_reuses(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    key, cert = pki.ensure_ca(d, "kedge", now=NOW)
    assert mode(d) == 0o700 and mode(d / "ca.key") == 0o600 and mode(d / "ca.crt") == 0o644
    assert pki.load_cert(d / "ca.crt") == cert
    again_key, again = pki.ensure_ca(d, "another name is ignored", now=NOW + 100 * DAY)
    assert again == cert
    assert pki.key_to_der(again_key) == pki.key_to_der(key)


def test_ensure_ca_never_overwrites_a_broken_ca(tmp_path: Path, other_ca) -> None:
    pki.ensure_ca(tmp_path, "kedge", now=NOW)
    crt, key = tmp_path / "ca.crt", tmp_path / "ca.key"
    original = crt.read_bytes(), key.read_bytes()

    key.write_bytes(pki.key_to_pem(other_ca[0]))
    with pytest.raises(PKIError, match=r"ca\.key does not belong to .*ca\.crt"):
        pki.ensure_ca(tmp_path, "kedge", now=NOW)
    assert key.read_bytes() == pki.key_to_pem(other_ca[0]) and crt.read_bytes() == original[0]

    key.write_bytes(original[1])
    crt.write_bytes(b"garbage")
    with pytest.raises(PKIError, match=r"ca\.crt: not a PEM or DER certificate"):
        pki.ensure_ca(tmp_path, "kedge", now=NOW)
    assert crt.read_bytes() == b"garbage"

    crt.write_bytes(original[0])
    with pytest.raises(PKIError, match=r"ca\.crt expired on 2036-04-28T12:00:00\+00:00"):
        pki.ensure_ca(tmp_path, "kedge", now=NOW + 3651 * DAY)


def test_ensure_ca_refuses_a_leaf_as_ca(tmp_path: Path, ca) -> None:
    key, leaf = pki.issue_server_cert(*ca, common_name="s", dns_names=["s"], ip_addresses=[], now=NOW)
    pki.write_pem(tmp_path / "ca.crt", pki.cert_to_pem(leaf))
    pki.write_pem(tmp_path / "ca.key", pki.key_to_pem(key))
    with pytest.raises(PKIError, match=r"ca\.crt is not a CA certificate"):
        pki.ensure_ca(tmp_path, "kedge", now=NOW)


def test_ensure_ca_with_only_a_certificate_refuses(tmp_path: Path, ca) -> None:
    pki.write_pem(tmp_path / "ca.crt", pki.cert_to_pem(ca[1]))
    with pytest.raises(PKIError, match=r"ca\.crt exists without .*ca\.key"):
        pki.ensure_ca(tmp_path, "kedge", now=NOW)
    assert not (tmp_path / "ca.key").exists()


def test_ensure_ca_finishes_after_a_crash_between_key_and_cert(tmp_path: Path) -> None:
    key = pki.generate_key()
    pki.write_pem(tmp_path / "ca.key", pki.key_to_pem(key))
    got_key, cert = pki.ensure_ca(tmp_path, "kedge", now=NOW)
    assert pki.key_to_der(got_key) == pki.key_to_der(key)
    assert pki._same_public_key(cert.public_key(), key.public_key())
    assert pki.load_cert(tmp_path / "ca.crt") == cert


# -- ensure_server_cert ------------------------------------------------------------------------------


def ensure(d: Path, ca, now: dt.datetime = NOW, dns=("localhost",), ips=("127.0.0.1",)):
    return pki.ensure_server_cert(d, "apiserver", ca, dns_names=list(dns), ip_addresses=list(ips), now=now)


def test_ensure_server_cert_is_idempotent(tmp_path: Path, ca) -> None:
    key, cert = ensure(tmp_path, ca)
    assert mode(tmp_path / "apiserver.key") == 0o600 and mode(tmp_path / "apiserver.crt") == 0o644
    assert pki.cert_common_name(cert) == "apiserver"
    key2, cert2 = ensure(tmp_path, ca, now=NOW + 300 * DAY)
    assert cert2 == cert and pki.key_to_der(key2) == pki.key_to_der(key)
    assert ensure(tmp_path, ca, dns=(), ips=("127.0.0.1",))[1] == cert  # fewer names: still covered
    assert ensure(tmp_path, ca, dns=("LOCALHOST",))[1] == cert  # DNS names compare case-insensitively


def test_ensure_server_cert_renews_before_expiry(tmp_path: Path, ca) -> None:
    _, cert = ensure(tmp_path, ca)
    _, renewed = ensure(tmp_path, ca, now=NOW + 336 * DAY)  # 29 days left
    assert renewed.serial_number != cert.serial_number
    assert renewed.not_valid_after_utc == NOW + 701 * DAY
    assert pki.load_cert(tmp_path / "apiserver.crt") == renewed


def test_ensure_server_cert_renews_for_a_new_ca(tmp_path: Path, ca, other_ca) -> None:
    ensure(tmp_path, other_ca)
    _, cert = ensure(tmp_path, ca)
    assert pki.issued_by(cert, ca[1]) and not pki.issued_by(cert, other_ca[1])


def test_ensure_server_cert_renews_for_a_new_name(tmp_path: Path, ca) -> None:
    _, cert = ensure(tmp_path, ca)
    _, wider = ensure(tmp_path, ca, dns=("localhost", "kedge.example"), ips=("127.0.0.1", "10.1.2.3"))
    assert wider.serial_number != cert.serial_number
    server_verifier(ca[1], DNSName("kedge.example")).verify(wider, [])
    server_verifier(ca[1], IPAddress(ipaddress.ip_address("10.1.2.3"))).verify(wider, [])


def test_ensure_server_cert_refuses_broken_files(tmp_path: Path, ca) -> None:
    ensure(tmp_path, ca)
    (tmp_path / "apiserver.key").write_bytes(pki.key_to_pem(pki.generate_key()))
    with pytest.raises(PKIError, match=r"apiserver\.key does not belong to .*apiserver\.crt"):
        ensure(tmp_path, ca)
    (tmp_path / "apiserver.crt").write_bytes(b"\x00\x01")
    with pytest.raises(PKIError, match=r"apiserver\.crt: not a PEM or DER certificate"):
        ensure(tmp_path, ca)


def test_ensure_server_cert_reissues_a_missing_half(tmp_path: Path, ca) -> None:
    _, cert = ensure(tmp_path, ca)
    (tmp_path / "apiserver.key").unlink()
    _, again = ensure(tmp_path, ca)
    assert again.serial_number != cert.serial_number
    assert pki._same_public_key(pki.load_key(tmp_path / "apiserver.key").public_key(), again.public_key())


# -- TLS between the contexts (in memory, no sockets) ------------------------------------------------


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str) -> ssl.SSLObject:
    """Runs a TLS handshake between two in-memory endpoints and echoes one record; returns the
    server side. Raises the ssl error of whichever side fails."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    done = {"server": False, "client": False}
    for _ in range(10):
        for side, obj in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), done
    client.write(b"ping")
    s_in.write(c_out.read())
    assert server.read() == b"ping"
    server.write(b"pong")
    c_in.write(s_out.read())
    assert client.read() == b"pong"
    return server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files valid on the real clock, since OpenSSL checks validity against it."""
    d = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca = pki.ensure_ca(d / "ca", "kedge", now=now)
    pki.ensure_server_cert(d, "server", ca, dns_names=["localhost"], ip_addresses=["127.0.0.1"], now=now)
    for name, issuer in (("client", ca), ("rogue", pki.create_ca("other", now=now))):
        key, cert = pki.issue_client_cert(
            *issuer, common_name="system:node:e1", organizations=["system:nodes"], now=now
        )
        assert key is not None
        pki.write_pem(d / ("%s.crt" % name), pki.cert_to_pem(cert))
        pki.write_pem(d / ("%s.key" % name), pki.key_to_pem(key))
    return {
        "ca": d / "ca" / "ca.crt",
        "server.crt": d / "server.crt",
        "server.key": d / "server.key",
        "client.crt": d / "client.crt",
        "client.key": d / "client.key",
        "rogue.crt": d / "rogue.crt",
        "rogue.key": d / "rogue.key",
    }


def test_tls_server_and_client_contexts_interoperate(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(live["server.crt"], live["server.key"])
    client_ctx = pki.client_ssl_context(live["ca"])
    assert server_ctx.minimum_version == client_ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    for host in ("localhost", "127.0.0.1"):
        server = handshake(server_ctx, client_ctx, host)
        assert server.version() in ("TLSv1.2", "TLSv1.3")
        assert server.getpeercert() is None


def test_tls_client_refuses_a_server_name_not_in_the_cert(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(live["server.crt"], live["server.key"])
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|IP address mismatch"):
        handshake(server_ctx, pki.client_ssl_context(live["ca"]), "kedge.example")


def test_tls_mutual_authentication(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        live["server.crt"], live["server.key"], client_ca_path=live["ca"], require_client_cert=True
    )
    client_ctx = pki.client_ssl_context(live["ca"], live["client.crt"], live["client.key"])
    server = handshake(server_ctx, client_ctx, "localhost")
    peer = server.getpeercert()
    assert peer is not None
    assert dict(rdn[0] for rdn in peer["subject"]) == {
        "organizationName": "system:nodes",
        "commonName": "system:node:e1",
    }


def test_tls_refuses_a_client_cert_from_another_ca(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        live["server.crt"], live["server.key"], client_ca_path=live["ca"], require_client_cert=True
    )
    rogue = pki.client_ssl_context(live["ca"], live["rogue.crt"], live["rogue.key"])
    with pytest.raises(ssl.SSLError, match=r"certificate verify failed|unknown ca"):
        handshake(server_ctx, rogue, "localhost")


def test_tls_required_client_cert_must_be_sent(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        live["server.crt"], live["server.key"], client_ca_path=live["ca"], require_client_cert=True
    )
    with pytest.raises(ssl.SSLError, match=r"peer did not return a certificate|certificate required"):
        handshake(server_ctx, pki.client_ssl_context(live["ca"]), "localhost")


def test_tls_optional_client_cert(live: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(live["server.crt"], live["server.key"], client_ca_path=live["ca"])
    assert server_ctx.verify_mode == ssl.CERT_OPTIONAL
    assert handshake(server_ctx, pki.client_ssl_context(live["ca"]), "localhost").getpeercert() is None
    with_cert = pki.client_ssl_context(live["ca"], live["client.crt"], live["client.key"])
    assert handshake(server_ctx, with_cert, "localhost").getpeercert() is not None


def test_context_errors_name_the_files(live: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(PKIError, match=r"cannot load certificate .*nope.crt with key"):
        pki.server_ssl_context(tmp_path / "nope.crt", live["server.key"])
    with pytest.raises(PKIError, match=r"cannot load certificate .*server.crt with key .*client.key"):
        pki.server_ssl_context(live["server.crt"], live["client.key"])
    with pytest.raises(PKIError, match="require_client_cert needs client_ca_path"):
        pki.server_ssl_context(live["server.crt"], live["server.key"], require_client_cert=True)
    with pytest.raises(PKIError, match=r"cannot load CA certificates from .*nope.crt"):
        pki.client_ssl_context(tmp_path / "nope.crt")
    with pytest.raises(PKIError, match=r"key_path .* given without cert_path"):
        pki.client_ssl_context(live["ca"], key_path=live["client.key"])
