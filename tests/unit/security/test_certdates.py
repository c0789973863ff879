"""kedge.security.certdates: validity and CN read from DER without cryptography, checked against it."""

import base64
import datetime as dt
import subprocess
import sys

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from kedge.security import certdates, pki
from kedge.security.errors import PKIError

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
KEY = pki.generate_key()


def _ca(now: dt.datetime = NOW, days: int = 3650, cn: str = "KubeEdge") -> x509.Certificate:
    return pki.create_ca(cn, now=now, days=days, key=KEY)[1]


def _expected(cert: x509.Certificate) -> tuple[float, float]:
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


# -- a hand-made DER encoder, independent of the module under test ------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def name(*attrs: tuple[bytes, int, bytes]) -> bytes:
    return tlv(
        0x30, b"".join(tlv(0x31, tlv(0x30, tlv(0x06, oid) + tlv(tag, value))) for oid, tag, value in attrs)
    )


CN_OID, O_OID = bytes.fromhex("550403"), bytes.fromhex("55040a")


def hand_cert(
    not_before: bytes,
    not_after: bytes,
    *,
    subject: bytes = b"",
    version: bool = True,
    time_tags: tuple[int, int] = (0x17, 0x17),
) -> bytes:
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
    fields = [
        tlv(0xA0, tlv(0x02, b"\x02")) if version else b"",
        tlv(0x02, b"\x01"),
        alg,
        name((CN_OID, 0x0C, b"issuer")),
        tlv(0x30, tlv(time_tags[0], not_before) + tlv(time_tags[1], not_after)),
        subject or name(),
        tlv(0x30, b"spki"),
    ]
    return tlv(0x30, tlv(0x30, b"".join(fields)) + alg + tlv(0x03, b"\x00sig"))


# -- validity ----------------------------------------------------------------------------------------


def test_validity_matches_cryptography_for_pki_certificates():
    ca_key, ca_cert = pki.create_ca("KubeEdge", now=NOW, days=36500)  # notAfter in 2126: GeneralizedTime
    _, client = pki.issue_client_cert(
        ca_key, ca_cert, common_name="system:node:n1", organizations=["system:nodes"], now=NOW
    )
    _, server = pki.issue_server_cert(
        ca_key, ca_cert, common_name="KubeEdge", dns_names=["localhost"], ip_addresses=["127.0.0.1"], now=NOW
    )
    for cert in (ca_cert, client, server):
        assert certdates.cert_validity(pki.cert_to_der(cert)) == _expected(cert)
    assert (
        certdates.cert_validity(pki.cert_to_der(ca_cert))[1]
        > dt.datetime(2126, 1, 1, tzinfo=dt.UTC).timestamp()
    )


@given(
    start=st.datetimes(
        min_value=dt.datetime(1950, 1, 2), max_value=dt.datetime(2300, 1, 1), timezones=st.just(dt.UTC)
    ),
    days=st.integers(min_value=1, max_value=40000),
)
def test_validity_matches_cryptography_across_utctime_and_generalizedtime(start, days):
    """UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280), both sides of each boundary."""
    start = start.replace(microsecond=0)
    cert = _ca(now=start, days=days)
    assert certdates.cert_validity(pki.cert_to_der(cert)) == _expected(cert)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"491231235959Z", dt.datetime(2049, 12, 31, 23, 59, 59)),
        (b"500101000000Z", dt.datetime(1950, 1, 1)),  # YY >= 50 is the 1900s
        (b"000229120000Z", dt.datetime(2000, 2, 29, 12)),
    ],
)
def test_utctime_century_rule(text, expected):
    der = hand_cert(text, b"991231235959Z")
    assert certdates.cert_validity(der)[0] == expected.replace(tzinfo=dt.UTC).timestamp()


def test_generalizedtime_with_fraction_and_v1_certificate():
    der = hand_cert(b"20500101000000.25Z", b"21000101000000Z", version=False, time_tags=(0x18, 0x18))
    not_before, not_after = certdates.cert_validity(der)
    assert not_before == dt.datetime(2050, 1, 1, tzinfo=dt.UTC).timestamp() + 0.25
    assert not_after == dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("not_before", "tags", "needle"),
    [
        (b"261301000000Z", (0x17, 0x17), "notBefore"),  # month 13
        (b"260230000000Z", (0x17, 0x17), "not a valid date"),  # February 30
        (b"2605011200Z", (0x17, 0x17), "UTCTime"),  # no seconds
        (b"260501120000+0100", (0x17, 0x17), "UTCTime"),  # not Zulu
        (b"20260501120000", (0x18, 0x17), "GeneralizedTime"),  # no Z
        (b"260501120000Z", (0x04, 0x17), "expected UTCTime or GeneralizedTime"),
    ],
)
def test_malformed_times_are_named(not_before, tags, needle):
    with pytest.raises(PKIError, match=needle):
        certdates.cert_validity(hand_cert(not_before, b"300101000000Z", time_tags=tags))


def test_every_truncation_is_a_pki_error():
    der = pki.cert_to_der(_ca())
    for n in range(len(der)):
        with pytest.raises(PKIError, match="malformed certificate"):
            certdates.cert_validity(der[:n])


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "truncated"),
        (b"\x04\x00", "tag 0x04"),
        (b"\x30\x80\x00\x00", "indefinite length"),
        (b"\x30\x85\x00\x00\x00\x00\x01", "invalid length"),
        (b"\x30\x05\x00", "claims 5 bytes"),
        (b"\x1f\x01\x00", "multi-byte tag"),
    ],
)
def test_malformed_structure_is_named(data, needle):
    with pytest.raises(PKIError, match=needle):
        certdates.cert_validity(data)


def test_trailing_bytes_and_wrong_types():
    der = pki.cert_to_der(_ca())
    with pytest.raises(PKIError, match="trailing"):
        certdates.cert_validity(der + b"\x00")
    with pytest.raises(PKIError, match="must be bytes"):
        certdates.cert_validity("not bytes")  # type: ignore[arg-type]
    assert certdates.cert_validity(memoryview(der)) == certdates.cert_validity(bytearray(der))


@given(st.binary(max_size=600))
def test_garbage_never_escapes_as_another_exception(data):
    for read in (certdates.cert_validity, certdates.cert_subject_cn):
        try:
            read(data)
        except PKIError:
            pass


_FUZZ_BASE = pki.cert_to_der(_ca(cn="system:node:fuzz"))


@given(st.lists(st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_certificates_give_a_result_or_a_pki_error(mutations):
    data = bytearray(_FUZZ_BASE)
    for pos, value in mutations:
        data[pos] = value
    for read in (certdates.cert_validity, certdates.cert_subject_cn):
        try:
            read(bytes(data))
        except PKIError:
            pass


# -- subject CN --------------------------------------------------------------------------------------


def test_common_name_matches_cryptography():
    ca_key, ca_cert = pki.create_ca("KubeEdge", now=NOW)
    _, node = pki.issue_client_cert(
        ca_key, ca_cert, common_name="system:node:edge-1", organizations=["system:nodes"], now=NOW
    )
    assert certdates.cert_subject_cn(pki.cert_to_der(ca_cert)) == "KubeEdge"
    assert certdates.cert_subject_cn(pki.cert_to_der(node)) == "system:node:edge-1"
    unicode = _ca(cn="nœud-ü")
    assert certdates.cert_subject_cn(pki.cert_to_der(unicode)) == pki.cert_common_name(unicode)


@pytest.mark.parametrize(
    ("tag", "raw", "expected"),
    [
        (0x0C, "système".encode(), "système"),
        (0x13, b"Printable", "Printable"),
        (0x16, b"ia5", "ia5"),
        (0x1E, "bmp".encode("utf-16-be"), "bmp"),
    ],
)
def test_common_name_string_types(tag, raw, expected):
    subject = name((O_OID, 0x0C, b"system:nodes"), (CN_OID, tag, raw))
    assert (
        certdates.cert_subject_cn(hand_cert(b"260101000000Z", b"270101000000Z", subject=subject)) == expected
    )


def test_common_name_absent_or_not_text():
    no_cn = name((O_OID, 0x0C, b"system:nodes"))
    assert certdates.cert_subject_cn(hand_cert(b"260101000000Z", b"270101000000Z", subject=no_cn)) == ""
    octets = name((CN_OID, 0x04, b"x"))
    with pytest.raises(PKIError, match="not a text type"):
        certdates.cert_subject_cn(hand_cert(b"260101000000Z", b"270101000000Z", subject=octets))
    bad_utf8 = name((CN_OID, 0x0C, b"\xff\xfe"))
    with pytest.raises(PKIError, match="not valid utf-8"):
        certdates.cert_subject_cn(hand_cert(b"260101000000Z", b"270101000000Z", subject=bad_utf8))


# -- PEM ---------------------------------------------------------------------------------------------


def test_pem_round_trip_is_byte_identical_to_cryptography():
    cert = _ca()
    der, pem = pki.cert_to_der(cert), pki.cert_to_pem(cert)
    assert certdates.pem_to_der(pem) == der
    assert certdates.der_to_pem(der) == pem
    assert certdates.cert_der(pem) == der and certdates.cert_der(der) == der


def test_pem_finds_the_certificate_among_other_blocks():
    cert = _ca()
    bundle = pki.key_to_pem(KEY) + b"\nsome text\n" + pki.cert_to_pem(cert).replace(b"\n", b"\r\n")
    assert certdates.pem_to_der(bundle) == pki.cert_to_der(cert)
    assert certdates.pem_to_der(bundle, "EC PRIVATE KEY") == pki.key_to_der(KEY)


@pytest.mark.parametrize(
    ("pem", "needle"),
    [
        (b"", "no PEM CERTIFICATE block"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n", "no PEM CERTIFICATE block"),
        (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not valid base64"),
        (b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n", "empty"),
    ],
)
def test_bad_pem_is_named(pem, needle):
    with pytest.raises(PKIError, match=needle):
        certdates.pem_to_der(pem)


def test_der_to_pem_line_length():
    pem = certdates.der_to_pem(bytes(range(256)))
    lines = pem.splitlines()
    assert lines[0] == b"-----BEGIN CERTIFICATE-----" and lines[-1] == b"-----END CERTIFICATE-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    assert base64.b64decode(b"".join(lines[1:-1])) == bytes(range(256))


def test_importing_certdates_does_not_load_cryptography():
    code = (
        "import sys, kedge.security.certdates; print(any(m.startswith('cryptography') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
