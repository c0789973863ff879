"""Certificates for kedge: a CA, serving and client certificates, CSR signing, files and TLS contexts.

Compatible with KubeEdge (reference/kubeedge-wire.md §2): ECDSA P-256 keys stored as SEC1
`EC PRIVATE KEY` PEM, edge client certificates `CN=system:node:<node>, O=system:nodes` with EKU
clientAuth and keyUsage digitalSignature+keyEncipherment, random serials, the CA fingerprint being
the SHA-256 of its DER. The embedded API server uses the same CA for its HTTPS certificate.

Time is an argument (`now`, timezone-aware), so renewal decisions are deterministic. Certificates
start 5 minutes before `now`: edge clocks drift, and a certificate that is not yet valid fails the
handshake just like an expired one.
"""

import datetime as dt
import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from kedge.security.errors import PKIError
from kedge.security.files import CERT_MODE, DIR_MODE, KEY_MODE, write_files
from kedge.security.tls import client_ssl_context, server_ssl_context

__all__ = [
    "CERT_MODE",
    "DIR_MODE",
    "KEY_MODE",
    "PKIError",
    "client_ssl_context",
    "server_ssl_context",
]  # re-exported: older callers

log = logging.getLogger(__name__)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
Usage = Literal["client", "server"]

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CLOCK_SKEW = dt.timedelta(minutes=5)
MIN_RSA_BITS = 2048

_EKU = {"client": ExtendedKeyUsageOID.CLIENT_AUTH, "server": ExtendedKeyUsageOID.SERVER_AUTH}


# -- keys and certificates ---------------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key (what KubeEdge uses for its CA and edge certificates)."""
    return ec.generate_private_key(ec.SECP256R1())


def _utc(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, got the naive datetime %s" % now.isoformat())
    return now.astimezone(dt.UTC)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: PublicKey, now: dt.datetime, days: int):
    if days <= 0:
        raise ValueError("a certificate must be valid for at least one day, got days=%d" % days)
    start = _utc(now)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SKEW)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _accepted_public_key(key: object, holder: str) -> PublicKey:
    """`key` if kedge certifies such keys (ECDSA P-256, RSA of 2048 bits or more); else PKIError
    saying what `holder` has instead."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return key
        problem = "an ECDSA %s key" % key.curve.name
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= MIN_RSA_BITS:
            return key
        problem = "a %d-bit RSA key" % key.key_size
    else:
        problem = "a %s" % type(key).__name__
    raise PKIError("%s has %s; use ECDSA P-256 or RSA of at least %d bits" % (holder, problem, MIN_RSA_BITS))


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """CA: certSign, crlSign, digitalSignature. Leaf: digitalSignature, keyEncipherment (as KubeEdge)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _check_signing_key(key: object) -> PrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError("a %s cannot sign certificates; use ECDSA P-256 or RSA" % type(key).__name__)
    return key


def create_ca(
    common_name: str, *, days: int = 3650, now: dt.datetime, key: PrivateKey | None = None
) -> tuple[PrivateKey, x509.Certificate]:
    """A self-signed CA (a new P-256 key unless `key` is given) that signs certificates, not other CAs."""
    key = _check_signing_key(key) if key is not None else generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key.public_key(), now, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _authority_key_id(ca_key: PrivateKey, ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _same_public_key(a: PublicKeyTypes, b: PublicKeyTypes) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)


def _check_issuer(ca_key: PrivateKey, ca_cert: x509.Certificate) -> None:
    if not _is_ca(ca_cert):
        raise PKIError(
            "%s is not a CA certificate (basicConstraints CA:false)" % ca_cert.subject.rfc4514_string()
        )
    if not _same_public_key(ca_key.public_key(), ca_cert.public_key()):
        raise PKIError(
            "the CA key does not belong to the CA certificate %s" % ca_cert.subject.rfc4514_string()
        )


def _issue(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    public_key: PublicKey,
    *,
    usage: Usage,
    sans: Sequence[x509.GeneralName],
    days: int,
    now: dt.datetime,
) -> x509.Certificate:
    _check_signing_key(ca_key)
    _check_issuer(ca_key, ca_cert)
    builder = (
        _builder(subject, ca_cert.subject, public_key, now, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([_EKU[usage]]), critical=False)
        .add_extension(_authority_key_id(ca_key, ca_cert), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise PKIError("%r is not an IP address" % text) from None


def _sans(dns_names: Iterable[str], ip_addresses: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(_ip(a)) for a in ip_addresses]
    return names


def issue_server_cert(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    *,
    common_name: str,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    days: int = 365,
    now: dt.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and a serving certificate (EKU serverAuth) for the given names and addresses."""
    sans = _sans(dns_names, ip_addresses)
    if not sans:
        raise PKIError("serving certificate %r needs at least one DNS name or IP address" % common_name)
    key = generate_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return key, _issue(
        ca_key, ca_cert, subject, key.public_key(), usage="server", sans=sans, days=days, now=now
    )


def issue_client_cert(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    *,
    common_name: str,
    organizations: Sequence[str],
    days: int = 365,
    now: dt.datetime,
    public_key: PublicKey | None = None,
) -> tuple[ec.EllipticCurvePrivateKey | None, x509.Certificate]:
    """A client certificate (EKU clientAuth), `O=<organizations>, CN=<common_name>` as Kubernetes reads
    user and groups. Without `public_key` a new key is made and returned; with one, the key is None."""
    key = None
    if public_key is None:
        key = generate_key()
        public_key = key.public_key()
    else:
        public_key = _accepted_public_key(public_key, "the public key to certify")
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    cert = _issue(ca_key, ca_cert, x509.Name(attrs), public_key, usage="client", sans=(), days=days, now=now)
    return key, cert


# -- certificate signing requests --------------------------------------------------------------------


def create_csr(
    key: PrivateKey,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for `O=<organizations>, CN=<common_name>` (what an edge node sends to join)."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans = _sans(dns_names, ip_addresses)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def parse_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A CSR from PEM or DER bytes."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as e:
        raise PKIError("the certificate signing request is not a valid PKCS#10 request: %s" % e) from None


def sign_csr(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    csr_der_or_pem: bytes,
    *,
    days: int = 365,
    now: dt.datetime,
    usages: Usage = "client",
    common_name: str | None = None,
) -> x509.Certificate:
    """Certifies a CSR after checking its signature, key and subject; `common_name`, when given, is
    the CN the request must carry. The subject is copied as requested; of the requested extensions
    only subjectAltName is honoured, and only for serving certificates."""
    if usages not in _EKU:
        raise ValueError("usages must be 'client' or 'server', got %r" % usages)
    csr = parse_csr(csr_der_or_pem)
    if not csr.is_signature_valid:
        raise PKIError("the certificate signing request's signature is invalid (tampered or corrupt request)")
    public_key = _accepted_public_key(csr.public_key(), "the certificate signing request")
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or not cns[0].value:
        raise PKIError(
            "the certificate signing request's subject %r needs exactly one non-empty common name (CN)"
            % csr.subject.rfc4514_string()
        )
    if common_name is not None and cns[0].value != common_name:
        raise PKIError(
            "the certificate signing request is for CN=%s, expected CN=%s" % (cns[0].value, common_name)
        )
    sans: list[x509.GeneralName] = []
    if usages == "server":
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            raise PKIError(
                "the serving certificate request for CN=%s names no DNS name or IP address" % cns[0].value
            ) from None
        except (ValueError, x509.DuplicateExtension) as e:
            raise PKIError("the certificate signing request has malformed extensions: %s" % e) from None
    return _issue(
        ca_key,
        ca_cert,
        csr.subject,
        public_key,
        usage=usages,
        sans=sans,
        days=days,
        now=now,
    )


# -- inspection and verification ---------------------------------------------------------------------


def cert_fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the DER certificate: the first part of a KubeEdge join token."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def cert_common_name(cert: x509.Certificate) -> str:
    """The subject's CN ('' without one)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


def cert_organizations(cert: x509.Certificate) -> list[str]:
    """The subject's O values, in order."""
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Whether `ca_cert` signed `cert` (issuer name and signature both match)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_client_cert(
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
    *,
    now: dt.datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> None:
    """Checks a client certificate against the CA: chain, validity at `now`, EKU clientAuth. Edge
    certificates carry no subjectAltName, so none is required (the web PKI profile would)."""
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store([ca_cert]))
        .time(_utc(now))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, list(intermediates))
    except VerificationError as e:
        raise PKIError(
            "client certificate %s is not valid for CA %s: %s"
            % (cert.subject.rfc4514_string(), ca_cert.subject.rfc4514_string(), e)
        ) from None


# -- encodings ---------------------------------------------------------------------------------------


def key_to_pem(key: PrivateKey) -> bytes:
    """Unencrypted traditional PEM: `EC PRIVATE KEY` (SEC1) for ECDSA, as KubeEdge writes it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def key_to_der(key: PrivateKey) -> bytes:
    """Traditional DER (SEC1 for ECDSA, 121 bytes for P-256): the HMAC secret of KubeEdge join tokens."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_to_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def csr_to_der(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.DER)


def parse_cert(data: bytes) -> x509.Certificate:
    """The first certificate of PEM bytes, or a DER certificate."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise PKIError("not a PEM or DER certificate: %s" % e) from None


def parse_key(data: bytes) -> PrivateKey:
    """An unencrypted ECDSA or RSA private key from PEM or DER bytes."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise PKIError("the private key is encrypted; kedge needs it unencrypted") from None
    except ValueError as e:
        raise PKIError("not a PEM or DER private key: %s" % e) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError("a %s is not supported; use ECDSA P-256 or RSA" % type(key).__name__)
    return key


# -- files -------------------------------------------------------------------------------------------


def write_pem(path: Path | str, data: bytes, mode: int = KEY_MODE) -> None:
    """Replaces `path` atomically (temporary file, fsync, rename); missing parents get mode 0700."""
    write_files([(path, data, mode)])


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PKIError("%s: no such %s file" % (path, what)) from None
    except OSError as e:
        raise PKIError("%s: cannot read the %s: %s" % (path, what, e.strerror or e)) from None


def load_key(path: Path | str) -> PrivateKey:
    """An unencrypted ECDSA or RSA private key from a PEM or DER file."""
    path = Path(path)
    data = _read(path, "private key")
    try:
        return parse_key(data)
    except PKIError as e:
        raise PKIError("%s: %s" % (path, e)) from None


def load_cert(path: Path | str) -> x509.Certificate:
    """The first certificate of a PEM file, or a DER certificate file."""
    path = Path(path)
    data = _read(path, "certificate")
    try:
        return parse_cert(data)
    except PKIError as e:
        raise PKIError("%s: %s" % (path, e)) from None


def _load_pair(cert_path: Path, key_path: Path) -> tuple[PrivateKey, x509.Certificate]:
    key, cert = load_key(key_path), load_cert(cert_path)
    if not _same_public_key(key.public_key(), cert.public_key()):
        raise PKIError("%s does not belong to %s (their public keys differ)" % (key_path, cert_path))
    return key, cert


def ensure_ca(
    directory: Path | str, common_name: str, *, now: dt.datetime, days: int = 3650
) -> tuple[PrivateKey, x509.Certificate]:
    """The CA in `directory` (ca.crt, ca.key): `ensure_ca_files` for that layout."""
    directory = Path(directory)
    return ensure_ca_files(directory / CA_CERT_FILE, directory / CA_KEY_FILE, common_name, now=now, days=days)


def ensure_ca_files(
    cert_path: Path | str, key_path: Path | str, common_name: str, *, now: dt.datetime, days: int = 3650
) -> tuple[PrivateKey, x509.Certificate]:
    """The CA at these paths, created on first use. An existing CA is never replaced: unreadable,
    mismatched, expired or non-CA files raise PKIError for the operator to resolve."""
    cert_path, key_path = Path(cert_path), Path(key_path)
    if cert_path.exists() and key_path.exists():
        key, cert = _load_pair(cert_path, key_path)
        if not _is_ca(cert):
            raise PKIError("%s is not a CA certificate (basicConstraints CA:false)" % cert_path)
        if cert.not_valid_after_utc <= _utc(now):
            raise PKIError(
                "%s expired on %s; replace the CA deliberately (every issued certificate depends on it)"
                % (cert_path, cert.not_valid_after_utc.isoformat())
            )
        return key, cert
    if cert_path.exists():
        raise PKIError(
            "%s exists without its key %s: restore the key, or remove both to create a new CA (everything "
            "it signed must then be issued again)" % (cert_path, key_path)
        )
    if key_path.exists():
        # The key is written first; a crash before the certificate leaves this. Finish the job with it.
        key = load_key(key_path)
        log.warning("CA key %s has no certificate; issuing %s for the existing key", key_path, cert_path)
        key, cert = create_ca(common_name, days=days, now=now, key=key)
        write_pem(cert_path, cert_to_pem(cert), CERT_MODE)
        return key, cert
    key, cert = create_ca(common_name, days=days, now=now)
    write_pem(key_path, key_to_pem(key), KEY_MODE)
    write_pem(cert_path, cert_to_pem(cert), CERT_MODE)
    log.info("created CA %s (sha256 %s)", cert_path, cert_fingerprint_sha256(cert))
    return key, cert


def _subject_alt_names(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    ips = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return dns, ips


def _serves(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in eku


def _renewal_reason(
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: dt.datetime,
    renew_before: dt.timedelta,
) -> str | None:
    if not issued_by(cert, ca_cert):
        return "it was signed by another CA"
    if not _serves(cert):
        return "it lacks EKU serverAuth"
    if cert.not_valid_after_utc - _utc(now) < renew_before:
        return "it expires on %s" % cert.not_valid_after_utc.isoformat()
    have_dns, have_ips = _subject_alt_names(cert)
    missing = [n for n in dns_names if n.lower() not in have_dns]
    missing += [a for a in ip_addresses if str(_ip(a)) not in have_ips]
    if missing:
        return "it does not cover %s" % ", ".join(missing)
    return None


def ensure_server_cert(
    directory: Path | str,
    name: str,
    ca: tuple[PrivateKey, x509.Certificate],
    *,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: dt.datetime,
    renew_before_days: int = 30,
    days: int = 365,
    common_name: str | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """`<name>.crt`/`<name>.key` in `directory`: `ensure_server_cert_files` for that layout."""
    directory = Path(directory)
    return ensure_server_cert_files(
        directory / ("%s.crt" % name),
        directory / ("%s.key" % name),
        ca,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        now=now,
        renew_before_days=renew_before_days,
        days=days,
        common_name=common_name or name,
    )


def ensure_server_cert_files(
    cert_path: Path | str,
    key_path: Path | str,
    ca: tuple[PrivateKey, x509.Certificate],
    *,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: dt.datetime,
    common_name: str,
    renew_before_days: int = 30,
    days: int = 365,
) -> tuple[PrivateKey, x509.Certificate]:
    """A serving certificate and its key at these paths, issued by `ca` for the given names and
    addresses. Re-issued when missing, within `renew_before_days` of expiry, signed by another CA or
    not covering a requested name; unreadable or mismatched files raise PKIError instead."""
    cert_path, key_path = Path(cert_path), Path(key_path)
    ca_key, ca_cert = ca
    if cert_path.exists() and key_path.exists():
        key, cert = _load_pair(cert_path, key_path)
        renew_before = dt.timedelta(days=renew_before_days)
        reason = _renewal_reason(cert, ca_cert, dns_names, ip_addresses, now, renew_before)
        if reason is None:
            return key, cert
        log.info("re-issuing %s: %s", cert_path, reason)
    else:
        log.info("issuing %s", cert_path)
    new_key, new_cert = issue_server_cert(
        ca_key,
        ca_cert,
        common_name=common_name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        days=days,
        now=now,
    )
    write_files([(key_path, key_to_pem(new_key), KEY_MODE), (cert_path, cert_to_pem(new_cert), CERT_MODE)])
    return new_key, new_cert
