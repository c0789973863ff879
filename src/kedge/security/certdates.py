"""What the edge needs to know about its certificate, read from the DER with the standard library.

The edge decides when to rotate (70-90 % of the lifetime) and whether it must join again (no usable
certificate for its node) on every start; importing cryptography for that would cost ~12 MB of resident
memory for the life of the process (reference/edge-measurements.md). A certificate's validity and
subject sit at fixed places in the TBSCertificate, so a small DER walk suffices:

    Certificate    ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
                                  validity SEQUENCE { notBefore Time, notAfter Time }, subject, ... }
    Time           ::= UTCTime | GeneralizedTime

Nothing here checks signatures: callers read their own files or hand the result to TLS, which does.
"""

import base64
import binascii
import calendar
import datetime as dt
import re

from kedge.security.errors import PKIError

_SEQUENCE, _SET, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x31, 0x17, 0x18
_CONTEXT_0 = 0xA0  # [0] EXPLICIT: the TBSCertificate's version
_OID = 0x06
_COMMON_NAME_OID = bytes.fromhex("550403")  # 2.5.4.3

# DirectoryString and the other string types a CN may be written in, with their decoding.
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x14: "latin-1",  # TeletexString (T61; latin-1 is how OpenSSL reads it too)
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}

_UTC_RE = re.compile(rb"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z")
_GENERALIZED_RE = re.compile(rb"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z")
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def _element(data: bytes, pos: int, limit: int, what: str) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at `pos`, which must end by `limit`
    (the end of the element holding it)."""
    if pos + 2 > limit:
        raise PKIError("malformed certificate: %s is truncated" % what)
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise PKIError("malformed certificate: %s has a multi-byte tag, which X.509 never uses" % what)
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise PKIError("malformed certificate: %s uses an indefinite length, not allowed in DER" % what)
        if count > 4 or pos + count > limit:
            raise PKIError("malformed certificate: %s has an invalid length field" % what)
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > limit:
        raise PKIError(
            "malformed certificate: %s claims %d bytes but only %d remain"
            % (what, length, max(limit - pos, 0))
        )
    return tag, pos, end


def _expect(data: bytes, pos: int, limit: int, tag: int, what: str) -> tuple[int, int]:
    found, start, end = _element(data, pos, limit, what)
    if found != tag:
        raise PKIError("malformed certificate: %s has tag 0x%02x, expected 0x%02x" % (what, found, tag))
    return start, end


def _as_bytes(der: object) -> bytes:
    if not isinstance(der, bytes | bytearray | memoryview):
        raise PKIError("a DER certificate must be bytes, got %s" % type(der).__name__)
    return bytes(der)


def _tbs_fields(der: bytes) -> tuple[int, int, int]:
    """(position of validity, position of subject, end of the TBSCertificate)."""
    start, end = _expect(der, 0, len(der), _SEQUENCE, "the certificate")
    if end != len(der):
        raise PKIError("malformed certificate: %d trailing bytes after the certificate" % (len(der) - end))
    pos, tbs_end = _expect(der, start, end, _SEQUENCE, "the TBSCertificate")
    tag, _, after = _element(der, pos, tbs_end, "the TBSCertificate's first field")
    if tag == _CONTEXT_0:  # version; absent means v1
        pos = after
    for what in ("serialNumber", "signature algorithm", "issuer"):
        _, _, pos = _element(der, pos, tbs_end, "the TBSCertificate's %s" % what)
    validity = pos
    _, _, subject = _element(der, validity, tbs_end, "the validity")
    return validity, subject, tbs_end


def _time(der: bytes, pos: int, limit: int, what: str) -> tuple[float, int]:
    tag, start, end = _element(der, pos, limit, what)
    text = der[start:end]
    if tag == _UTC_TIME:
        m = _UTC_RE.fullmatch(text)
        if m is None:
            raise PKIError("malformed certificate: %s is not a UTCTime YYMMDDHHMMSSZ: %r" % (what, text))
        yy = int(m[1])
        year = 1900 + yy if yy >= 50 else 2000 + yy  # RFC 5280 4.1.2.5.1
        fields, fraction = [year] + [int(g) for g in m.groups()[1:]], 0.0
    elif tag == _GENERALIZED_TIME:
        m = _GENERALIZED_RE.fullmatch(text)
        if m is None:
            raise PKIError(
                "malformed certificate: %s is not a GeneralizedTime YYYYMMDDHHMMSSZ: %r" % (what, text)
            )
        fields = [int(g) for g in m.groups()[:6]]
        fraction = float(b"0." + m[7]) if m[7] else 0.0
    else:
        raise PKIError(
            "malformed certificate: %s has tag 0x%02x, expected UTCTime or GeneralizedTime" % (what, tag)
        )
    try:
        dt.datetime(*fields)  # rejects month 13, February 30, hour 24 and the like
    except ValueError as e:
        raise PKIError("malformed certificate: %s %r is not a valid date: %s" % (what, text, e)) from None
    return calendar.timegm(tuple(fields)) + fraction, end


def cert_validity(der: bytes) -> tuple[float, float]:
    """(notBefore, notAfter) of a DER certificate as unix seconds; PKIError naming what is malformed."""
    der = _as_bytes(der)
    validity, _, tbs_end = _tbs_fields(der)
    start, end = _expect(der, validity, tbs_end, _SEQUENCE, "the validity")
    not_before, pos = _time(der, start, end, "notBefore")
    not_after, pos = _time(der, pos, end, "notAfter")
    if pos != end:
        raise PKIError("malformed certificate: the validity holds more than notBefore and notAfter")
    return not_before, not_after


def _decode_string(tag: int, raw: bytes, what: str) -> str:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        raise PKIError(
            "malformed certificate: %s has string tag 0x%02x, which is not a text type" % (what, tag)
        )
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise PKIError("malformed certificate: %s is not valid %s" % (what, codec)) from None


def cert_subject_cn(der: bytes) -> str:
    """The subject's common name ('' without one; the first when there are several)."""
    der = _as_bytes(der)
    _, subject, tbs_end = _tbs_fields(der)
    pos, end = _expect(der, subject, tbs_end, _SEQUENCE, "the subject")
    while pos < end:
        rdn_pos, rdn_end = _expect(der, pos, end, _SET, "a subject RDN")
        while rdn_pos < rdn_end:
            atv_pos, atv_end = _expect(der, rdn_pos, rdn_end, _SEQUENCE, "a subject attribute")
            oid_start, oid_end = _expect(der, atv_pos, atv_end, _OID, "a subject attribute type")
            if der[oid_start:oid_end] == _COMMON_NAME_OID:
                tag, value_start, value_end = _element(der, oid_end, atv_end, "the subject CN")
                return _decode_string(tag, der[value_start:value_end], "the subject CN")
            rdn_pos = atv_end
        pos = rdn_end
    return ""


def pem_to_der(pem: bytes, label: str = "CERTIFICATE") -> bytes:
    """The DER inside the first `-----BEGIN <label>-----` block of `pem`."""
    for m in _PEM_RE.finditer(bytes(pem)):
        if m[1].decode("ascii") != label:
            continue
        body = b"".join(m[2].split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise PKIError("malformed PEM: the %s block is not valid base64" % label) from None
        if not der:
            raise PKIError("malformed PEM: the %s block is empty" % label)
        return der
    raise PKIError("no PEM %s block found" % label)


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM wrapping of `der` with 64-character lines, as OpenSSL and Go's encoding/pem write it."""
    b64 = base64.b64encode(bytes(der))
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    head, tail = b"-----BEGIN %s-----\n" % label.encode(), b"-----END %s-----\n" % label.encode()
    return head + b"".join(line + b"\n" for line in lines) + tail


def cert_der(data: bytes) -> bytes:
    """The DER of a certificate given as PEM or DER bytes."""
    if bytes(data).lstrip().startswith(b"-----BEGIN"):
        return pem_to_der(data)
    return bytes(data)
