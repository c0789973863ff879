"""KubeEdge-compatible join tokens: `<hex sha256 of the CA DER>.<JWT>` (reference/kubeedge-wire.md §2).

The JWT is HS256 with header `{"alg":"HS256","typ":"JWT"}` and claims `{"exp": <unix seconds>}`; its
HMAC secret is the CA private key as traditional DER (SEC1 for P-256, `pki.key_to_der`). The edge
checks only that the token has 4 dot-parts and that part 0 is the SHA-256 of the CA it downloaded,
then sends the JWT (the token minus part 0) as `Authorization: Bearer <JWT>` to `/edge.crt`. The cloud
verifies signature and expiry here.

Written on the standard library rather than a JWT package: one algorithm is accepted, so the whole
attack surface of algorithm negotiation ("none", key confusion) is simply absent. Time is an argument.
"""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kedge.security import pki

ALGORITHM = "HS256"
DEFAULT_TTL = 24 * 3600.0
# KubeEdge's cloudHub.tokenRefreshDuration default (12 hours).
DEFAULT_REFRESH = 12 * 3600.0

# Compact JSON with the key order golang-jwt produces, so our tokens are byte-identical in shape.
_HEADER_SEGMENT = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode("ascii")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class TokenError(ValueError):
    """A join token or JWT that cannot be used; the message says what is wrong with it."""


# -- encoding helpers --------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str, what: str) -> bytes:
    """Unpadded base64url as JWTs use it; padding or characters outside the alphabet are rejected."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise TokenError("malformed token: the %s is not unpadded base64url" % what)
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed token: the %s is not unpadded base64url" % what) from None


def _reject_constant(name: str) -> None:
    raise ValueError("%s is not valid JSON" % name)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    raw = _b64decode(segment, what)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise TokenError("malformed token: the %s is not JSON: %s" % (what, e)) from None
    if not isinstance(value, dict):
        raise TokenError("malformed token: the %s is a JSON %s, not an object" % (what, type(value).__name__))
    return value


def _iso(seconds: float) -> str:
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return "unix time %r" % seconds


# -- keys --------------------------------------------------------------------------------------------


def _secret(ca_key: pki.PrivateKey) -> bytes:
    """The HMAC secret KubeEdge uses: the CA private key as traditional DER."""
    return pki.key_to_der(ca_key)


def _check_pair(ca_key: pki.PrivateKey, ca_cert: x509.Certificate) -> None:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if ca_key.public_key().public_bytes(der, spki) != ca_cert.public_key().public_bytes(der, spki):
        raise TokenError(
            "the CA key does not belong to the CA certificate %s; a token would name one CA and be "
            "signed by another" % ca_cert.subject.rfc4514_string()
        )


def _sign(signing_input: str, secret: bytes) -> str:
    return _b64encode(hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest())


# -- issuing -----------------------------------------------------------------------------------------


def ca_hash(ca_cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the CA certificate's DER: part 0 of a join token."""
    return pki.cert_fingerprint_sha256(ca_cert)


def _issue(secret: bytes, hash_hex: str, now: float, ttl: float) -> tuple[str, int]:
    if not math.isfinite(now):
        raise ValueError("now must be a finite unix time, got %r" % now)
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError("ttl must be a positive number of seconds, got %r" % ttl)
    # Whole seconds, rounded down like Go's time.Unix(): the token never outlives its ttl.
    exp = math.floor(now + ttl)
    payload = _b64encode(json.dumps({"exp": exp}, separators=(",", ":")).encode("ascii"))
    signing_input = "%s.%s" % (_HEADER_SEGMENT, payload)
    return "%s.%s.%s" % (hash_hex, signing_input, _sign(signing_input, secret)), exp


def issue_token(
    ca_key: pki.PrivateKey, ca_cert: x509.Certificate, *, now: float, ttl: float = DEFAULT_TTL
) -> str:
    """A join token for `keadm join --token`/`edgeHub.token`, valid until `now + ttl` (unix seconds)."""
    _check_pair(ca_key, ca_cert)
    token, _ = _issue(_secret(ca_key), ca_hash(ca_cert), now, ttl)
    return token


# -- parsing and verification ------------------------------------------------------------------------


def split_token(token: str) -> tuple[str, str]:
    """(CA hash, JWT) of a join token; TokenError when it is not `<64 hex>.<header>.<claims>.<sig>`."""
    parts = token.split(".")
    if len(parts) != 4:
        raise TokenError(
            "malformed join token: it has %d dot-separated parts, expected 4 "
            "(<CA sha256 hex>.<JWT header>.<JWT claims>.<JWT signature>)" % len(parts)
        )
    if not _HEX_SHA256.fullmatch(parts[0]):
        raise TokenError(
            "malformed join token: part 0 must be the CA certificate's SHA-256 as 64 lower-case hex "
            "digits, got %d characters %r" % (len(parts[0]), parts[0][:80])
        )
    for index, name in ((1, "JWT header"), (2, "JWT claims"), (3, "JWT signature")):
        if not _B64URL.fullmatch(parts[index]):
            raise TokenError(
                "malformed join token: part %d (the %s) is not unpadded base64url" % (index, name)
            )
    return parts[0], ".".join(parts[1:])


def verify_ca_hash(token: str, ca_der: bytes) -> None:
    """The edge-side check: the CA downloaded from `/ca.crt` is the one the token names."""
    expected, _ = split_token(token)
    if not hmac.compare_digest(expected, hashlib.sha256(ca_der).hexdigest()):
        raise TokenError("the CA certificate does not match the token's CA hash")


def _verify(jwt: str, secret: bytes, now: float, leeway: float) -> dict[str, Any]:
    parts = jwt.split(".")
    if len(parts) != 3:
        hint = " (send the join token without its CA hash part)" if len(parts) == 4 else ""
        raise TokenError(
            "malformed token: a JWT has 3 dot-separated parts (header.claims.signature), got %d%s"
            % (len(parts), hint)
        )
    header_segment, claims_segment, signature_segment = parts
    header = _json_object(header_segment, "JWT header")
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise TokenError("unsupported token algorithm %r: only %s is accepted" % (alg, ALGORITHM))
    if "typ" in header and not (isinstance(header["typ"], str) and header["typ"].upper() == "JWT"):
        raise TokenError("unsupported token type %r: expected JWT" % header["typ"])
    if "crit" in header:
        raise TokenError(
            "unsupported token: critical header parameters %r are not understood" % (header["crit"],)
        )
    if not _B64URL.fullmatch(signature_segment):
        raise TokenError("malformed token: the JWT signature is not unpadded base64url")
    # Comparing the encoded signatures rejects non-canonical encodings of the right MAC as well.
    expected = _sign("%s.%s" % (header_segment, claims_segment), secret)
    if not hmac.compare_digest(expected, signature_segment):
        raise TokenError("invalid token signature: not signed by this CA's key, or altered")
    claims = _json_object(claims_segment, "JWT claims")
    if "exp" not in claims:
        raise TokenError("token has no expiry: the exp claim is missing")
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise TokenError("malformed token: exp must be a number of unix seconds, got %r" % (exp,))
    # golang-jwt's rule: valid while now - leeway is before exp.
    if now - leeway >= exp:
        raise TokenError("token expired at %s" % _iso(exp))
    return claims


def verify_jwt(jwt: str, ca_key: pki.PrivateKey, *, now: float, leeway: float = 0) -> dict[str, Any]:
    """The claims of a JWT signed with `ca_key` (HS256) that has not expired at `now`; TokenError
    naming the problem otherwise (malformed, wrong algorithm, bad signature, expired, no exp)."""
    return _verify(jwt, _secret(ca_key), now, leeway)


def bearer_jwt(authorization_header: str | None) -> str:
    """The JWT of an `Authorization: Bearer <jwt>` header (scheme case-insensitive, RFC 7235)."""
    if not authorization_header or not authorization_header.strip():
        raise TokenError("no Authorization header: a Bearer token is required")
    fields = authorization_header.split()
    if fields[0].lower() != "bearer":
        raise TokenError("unsupported Authorization scheme %r: expected Bearer" % fields[0][:40])
    if len(fields) != 2:
        raise TokenError(
            "malformed Authorization header: expected 'Bearer <token>', got %d field(s)" % len(fields)
        )
    return fields[1]


# -- rotation ----------------------------------------------------------------------------------------


class TokenRing:
    """The cloud's join token, re-issued every `refresh` seconds (KubeEdge's tokenRefreshDuration).

    Every token lives `ttl` seconds, longer than `refresh`, so the one handed out just before a
    refresh stays usable; `verify` accepts any unexpired token signed by the CA key, so neither a
    rotation nor a restart of the cloud locks out an edge holding an older token. Not thread-safe:
    use it from one event loop.
    """

    def __init__(
        self,
        ca_key: pki.PrivateKey,
        ca_cert: x509.Certificate,
        *,
        ttl: float = DEFAULT_TTL,
        refresh: float = DEFAULT_REFRESH,
        leeway: float = 0,
    ) -> None:
        if not (refresh > 0 and math.isfinite(refresh)):
            raise ValueError("refresh must be a positive number of seconds, got %r" % refresh)
        if not (ttl > refresh and math.isfinite(ttl)):
            raise ValueError(
                "ttl (%r s) must be longer than refresh (%r s), or a token could expire before it is "
                "replaced" % (ttl, refresh)
            )
        _check_pair(ca_key, ca_cert)
        self._secret = _secret(ca_key)
        self._hash = ca_hash(ca_cert)
        self._ttl = ttl
        self._refresh = refresh
        self._leeway = leeway
        self._current: tuple[str, float, int] | None = None  # token, issued at, exp
        self._previous: tuple[str, float, int] | None = None

    def current(self, now: float) -> str:
        """The token to hand out, issuing a new one once the current one is `refresh` seconds old."""
        if self._current is None or now - self._current[1] >= self._refresh:
            token, exp = _issue(self._secret, self._hash, now, self._ttl)
            self._previous, self._current = self._current, (token, now, exp)
        return self._current[0]

    def previous(self, now: float) -> str | None:
        """The token replaced by the last refresh, while it is still valid at `now`."""
        if self._previous is None or now - self._leeway >= self._previous[2]:
            return None
        return self._previous[0]

    def verify(self, jwt: str, now: float) -> dict[str, Any]:
        """The claims of `jwt` if it is an unexpired token signed by the CA key; TokenError otherwise."""
        return _verify(jwt, self._secret, now, self._leeway)
