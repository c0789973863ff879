"""kedge.security.tokens: KubeEdge join token shape, HS256 verification, rejection messages, rotation."""

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from kedge.security import pki, tokens
from kedge.security.tokens import TokenError, TokenRing

NOW_DT = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
NOW = NOW_DT.timestamp()
HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture(scope="module")
def ca() -> tuple[pki.PrivateKey, x509.Certificate]:
    return pki.create_ca("KubeEdge", now=NOW_DT)


@pytest.fixture(scope="module")
def other_ca() -> tuple[pki.PrivateKey, x509.Certificate]:
    return pki.create_ca("someone-else", now=NOW_DT)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def hand_jwt(secret: bytes, header: bytes, claims: bytes) -> str:
    """An HS256 JWT built from scratch, independent of the module under test."""
    signing_input = b64(header) + "." + b64(claims)
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def jwt_of(token: str) -> str:
    return token.split(".", 1)[1]


# -- structure ---------------------------------------------------------------------------------------


def test_token_structure(ca):
    key, cert = ca
    token = tokens.issue_token(key, cert, now=NOW)
    parts = token.split(".")
    assert len(parts) == 4
    assert parts[0] == hashlib.sha256(pki.cert_to_der(cert)).hexdigest()
    assert unb64(parts[1]) == b'{"alg":"HS256","typ":"JWT"}'
    assert json.loads(unb64(parts[2])) == {"exp": int(NOW + DAY)}
    assert unb64(parts[2]) == b'{"exp":%d}' % int(NOW + DAY)
    assert all("=" not in p for p in parts)
    signing_input = (parts[1] + "." + parts[2]).encode()
    assert unb64(parts[3]) == hmac.new(pki.key_to_der(key), signing_input, hashlib.sha256).digest()


def test_hmac_secret_is_sec1_der_of_p256_key(ca):
    key, _ = ca
    assert len(pki.key_to_der(key)) == 121


def test_segments_match_the_token_edgecore_accepted(ca):
    """Header and claims segments as captured from the real join (wire reference §2.2)."""
    key, cert = ca
    token = tokens.issue_token(key, cert, now=1795403538 - DAY)
    _, header, claims, _ = token.split(".")
    assert header == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    assert claims == "eyJleHAiOjE3OTU0MDM1Mzh9"


def test_exp_rounds_down_to_whole_seconds(ca):
    key, cert = ca
    token = tokens.issue_token(key, cert, now=1000.9, ttl=10.5)
    assert json.loads(unb64(token.split(".")[2])) == {"exp": 1011}


def test_ca_hash(ca):
    _, cert = ca
    assert tokens.ca_hash(cert) == hashlib.sha256(pki.cert_to_der(cert)).hexdigest()
    assert len(tokens.ca_hash(cert)) == 64


@pytest.mark.parametrize("ttl", [0, -1, float("inf"), float("nan")])
def test_issue_rejects_bad_ttl(ca, ttl):
    key, cert = ca
    with pytest.raises(ValueError, match=r"ttl must be a positive number of seconds"):
        tokens.issue_token(key, cert, now=NOW, ttl=ttl)


def test_issue_rejects_key_of_another_ca(ca, other_ca):
    with pytest.raises(TokenError, match=r"the CA key does not belong to the CA certificate CN=KubeEdge"):
        tokens.issue_token(other_ca[0], ca[1], now=NOW)


# -- round trip and independent tokens --------------------------------------------------------------


def test_round_trip(ca):
    key, cert = ca
    token = tokens.issue_token(key, cert, now=NOW)
    hash_hex, jwt = tokens.split_token(token)
    assert hash_hex == tokens.ca_hash(cert)
    assert jwt == jwt_of(token)
    assert tokens.verify_jwt(jwt, key, now=NOW) == {"exp": int(NOW + DAY)}
    tokens.verify_ca_hash(token, pki.cert_to_der(cert))


@given(now=st.integers(0, 4_000_000_000), ttl=st.integers(1, 10 * 365 * 86400))
def test_round_trip_valid_until_exp(ca, now, ttl):
    key, cert = ca
    jwt = jwt_of(tokens.issue_token(key, cert, now=now, ttl=ttl))
    assert tokens.verify_jwt(jwt, key, now=now + ttl - 1) == {"exp": now + ttl}
    with pytest.raises(TokenError, match=r"token expired at"):
        tokens.verify_jwt(jwt, key, now=now + ttl)


def test_hand_built_jwt_verifies(ca):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"alg":"HS256","typ":"JWT"}', b'{"exp":%d}' % int(NOW + 60))
    assert tokens.verify_jwt(jwt, key, now=NOW) == {"exp": int(NOW + 60)}


def test_hand_built_jwt_with_other_key_order_and_claims_verifies(ca):
    """golang-jwt accepts any JSON layout; extra claims are returned untouched."""
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"typ": "JWT", "alg": "HS256"}', b'{"iat": 1, "exp": %d.5}' % NOW)
    assert tokens.verify_jwt(jwt, key, now=NOW) == {"iat": 1, "exp": NOW + 0.5}


def test_hand_built_jwt_without_typ_verifies(ca):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"alg":"HS256"}', b'{"exp":%d}' % int(NOW + 60))
    assert tokens.verify_jwt(jwt, key, now=NOW) == {"exp": int(NOW + 60)}


# -- rejections --------------------------------------------------------------------------------------


def test_tampered_claims_rejected(ca):
    key, cert = ca
    header, _, sig = jwt_of(tokens.issue_token(key, cert, now=NOW)).split(".")
    forged = header + "." + b64(b'{"exp":%d}' % int(NOW + 100 * DAY)) + "." + sig
    with pytest.raises(TokenError, match=r"^invalid token signature: not signed by this CA's key, or alt"):
        tokens.verify_jwt(forged, key, now=NOW)


def test_tampered_signature_rejected(ca):
    key, cert = ca
    jwt = jwt_of(tokens.issue_token(key, cert, now=NOW))
    flipped = jwt[:-2] + ("A" if jwt[-2] != "A" else "B") + jwt[-1]
    with pytest.raises(TokenError, match=r"^invalid token signature"):
        tokens.verify_jwt(flipped, key, now=NOW)


def test_signature_with_non_canonical_trailing_bits_rejected(ca):
    """A 32-byte MAC leaves 2 spare bits in its last base64 character; only the canonical form passes."""
    key, cert = ca
    jwt = jwt_of(tokens.issue_token(key, cert, now=NOW))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(jwt[-1])
    variant = jwt[:-1] + alphabet[last ^ 1]
    assert unb64(variant.split(".")[2]) == unb64(jwt.split(".")[2])
    with pytest.raises(TokenError, match=r"^invalid token signature"):
        tokens.verify_jwt(variant, key, now=NOW)


def test_other_ca_key_rejected(ca, other_ca):
    jwt = jwt_of(tokens.issue_token(*ca, now=NOW))
    with pytest.raises(TokenError, match=r"^invalid token signature"):
        tokens.verify_jwt(jwt, other_ca[0], now=NOW)


def test_alg_none_rejected(ca):
    key, _ = ca
    jwt = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(b'{"exp":%d}' % int(NOW + 60)) + "."
    with pytest.raises(TokenError, match=r"^unsupported token algorithm 'none': only HS256 is accepted$"):
        tokens.verify_jwt(jwt, key, now=NOW)


@pytest.mark.parametrize("header", [b'{"alg":"HS512","typ":"JWT"}', b'{"alg":"hs256"}', b'{"typ":"JWT"}'])
def test_other_algorithms_rejected_even_when_correctly_signed(ca, header):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), header, b'{"exp":%d}' % int(NOW + 60))
    with pytest.raises(TokenError, match=r"^unsupported token algorithm .*: only HS256 is accepted$"):
        tokens.verify_jwt(jwt, key, now=NOW)


def test_wrong_typ_and_crit_rejected(ca):
    key, _ = ca
    secret, claims = pki.key_to_der(key), b'{"exp":%d}' % int(NOW + 60)
    with pytest.raises(TokenError, match=r"^unsupported token type 'at\+jwt': expected JWT$"):
        tokens.verify_jwt(hand_jwt(secret, b'{"alg":"HS256","typ":"at+jwt"}', claims), key, now=NOW)
    with pytest.raises(TokenError, match=r"critical header parameters"):
        tokens.verify_jwt(hand_jwt(secret, b'{"alg":"HS256","crit":["b64"]}', claims), key, now=NOW)


def test_expired_rejected_with_time(ca):
    key, cert = ca
    jwt = jwt_of(tokens.issue_token(key, cert, now=NOW, ttl=HOUR))
    with pytest.raises(TokenError, match=r"^token expired at 2026-05-01T13:00:00Z$"):
        tokens.verify_jwt(jwt, key, now=NOW + HOUR)
    assert tokens.verify_jwt(jwt, key, now=NOW + HOUR - 1) == {"exp": int(NOW + HOUR)}


def test_leeway_extends_expiry(ca):
    key, cert = ca
    jwt = jwt_of(tokens.issue_token(key, cert, now=NOW, ttl=HOUR))
    assert tokens.verify_jwt(jwt, key, now=NOW + HOUR + 59, leeway=60) == {"exp": int(NOW + HOUR)}
    with pytest.raises(TokenError, match=r"^token expired at"):
        tokens.verify_jwt(jwt, key, now=NOW + HOUR + 60, leeway=60)


def test_missing_exp_rejected(ca):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"alg":"HS256","typ":"JWT"}', b'{"iat":1}')
    with pytest.raises(TokenError, match=r"^token has no expiry: the exp claim is missing$"):
        tokens.verify_jwt(jwt, key, now=NOW)


@pytest.mark.parametrize("exp", [b'"2030"', b"true", b"null", b"NaN", b"[1]"])
def test_non_numeric_exp_rejected(ca, exp):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"alg":"HS256"}', b'{"exp":' + exp + b"}")
    with pytest.raises(TokenError, match=r"^malformed token: "):
        tokens.verify_jwt(jwt, key, now=NOW)


@pytest.mark.parametrize(
    ("jwt", "message"),
    [
        ("", "^malformed token: a JWT has 3 dot-separated parts \\(header.claims.signature\\), got 1$"),
        ("garbage", "^malformed token: a JWT has 3 dot-separated parts"),
        ("a.b.c.d", "got 4 \\(send the join token without its CA hash part\\)$"),
        ("!!!.e30.abc", "^malformed token: the JWT header is not unpadded base64url$"),
        ("eyJhbGciOiJIUzI1NiJ9=.e30.abc", "^malformed token: the JWT header is not unpadded base64url$"),
        ("A.e30.abc", "^malformed token: the JWT header is not unpadded base64url$"),
        (b64(b"not json") + ".e30.abc", "^malformed token: the JWT header is not JSON"),
        (b64(b"[1]") + ".e30.abc", "^malformed token: the JWT header is a JSON list, not an object$"),
        (b64(b'{"alg":"HS256"}') + ".e30.a b", "^malformed token: the JWT signature is not unpadded base64"),
    ],
)
def test_garbage_rejected(ca, jwt, message):
    with pytest.raises(TokenError, match=message):
        tokens.verify_jwt(jwt, ca[0], now=NOW)


def test_correctly_signed_non_object_claims_rejected(ca):
    key, _ = ca
    jwt = hand_jwt(pki.key_to_der(key), b'{"alg":"HS256"}', b"42")
    with pytest.raises(TokenError, match=r"^malformed token: the JWT claims is a JSON int, not an object$"):
        tokens.verify_jwt(jwt, key, now=NOW)


@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_token_error(ca, text):
    with pytest.raises(TokenError):
        tokens.verify_jwt(text, ca[0], now=NOW)


def test_token_error_is_value_error():
    assert issubclass(TokenError, ValueError)


# -- split_token and the edge-side hash check --------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "it has 1 dot-separated parts, expected 4"),
        ("a.b.c", "it has 3 dot-separated parts, expected 4"),
        ("a.b.c.d.e", "it has 5 dot-separated parts, expected 4"),
        ("xyz.a.b.c", "part 0 must be the CA certificate's SHA-256 as 64 lower-case hex digits, got 3"),
        ("A" * 64 + ".a.b.c", "part 0 must be the CA certificate's SHA-256 as 64 lower-case hex digits"),
        ("0" * 63 + ".a.b.c", "64 lower-case hex digits, got 63 characters"),
        ("0" * 64 + "..b.c", "part 1 \\(the JWT header\\) is not unpadded base64url"),
        ("0" * 64 + ".a.b=.c", "part 2 \\(the JWT claims\\) is not unpadded base64url"),
        ("0" * 64 + ".a.b.c\n", "part 3 \\(the JWT signature\\) is not unpadded base64url"),
    ],
)
def test_split_token_rejects_malformed(token, message):
    with pytest.raises(TokenError, match=r"^malformed join token: .*" + message):
        tokens.split_token(token)


def test_verify_ca_hash_rejects_other_ca(ca, other_ca):
    token = tokens.issue_token(*ca, now=NOW)
    with pytest.raises(TokenError, match=r"^the CA certificate does not match the token's CA hash$"):
        tokens.verify_ca_hash(token, pki.cert_to_der(other_ca[1]))
    with pytest.raises(TokenError, match=r"^the CA certificate does not match the token's CA hash$"):
        tokens.verify_ca_hash(token, pki.cert_to_pem(ca[1]))  # the edge hashes the DER body


# -- bearer header -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Bearer a.b.c", "bearer a.b.c", "BEARER a.b.c", "Bearer   a.b.c", " Bearer a.b.c  "]
)
def test_bearer_jwt(header):
    assert tokens.bearer_jwt(header) == "a.b.c"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "^no Authorization header: a Bearer token is required$"),
        ("", "^no Authorization header"),
        ("   ", "^no Authorization header"),
        ("Basic dXNlcjpwdw==", "^unsupported Authorization scheme 'Basic': expected Bearer$"),
        ("a.b.c", "^unsupported Authorization scheme 'a.b.c': expected Bearer$"),
        ("Bearer", "^malformed Authorization header: expected 'Bearer <token>', got 1 field\\(s\\)$"),
        ("Bearer a b", "got 3 field\\(s\\)$"),
    ],
)
def test_bearer_jwt_rejects(header, message):
    with pytest.raises(TokenError, match=message):
        tokens.bearer_jwt(header)


def test_bearer_header_as_edgecore_sends_it(ca):
    key, cert = ca
    token = tokens.issue_token(key, cert, now=NOW)
    header = "Bearer " + token.split(".", 1)[1]
    assert tokens.verify_jwt(tokens.bearer_jwt(header), key, now=NOW) == {"exp": int(NOW + DAY)}


# -- TokenRing ---------------------------------------------------------------------------------------


def test_ring_reissues_after_refresh_and_accepts_previous_until_expiry(ca):
    key, cert = ca
    ring = TokenRing(key, cert)  # ttl 24 h, refresh 12 h
    first = ring.current(NOW)
    assert first.split(".")[0] == tokens.ca_hash(cert)
    assert ring.previous(NOW) is None
    assert ring.current(NOW + 12 * HOUR - 1) == first

    second = ring.current(NOW + 12 * HOUR)
    assert second != first
    assert json.loads(unb64(second.split(".")[2])) == {"exp": int(NOW + 36 * HOUR)}
    assert ring.previous(NOW + 12 * HOUR) == first
    assert ring.current(NOW + 20 * HOUR) == second

    # An edge still holding the first token can join until that token's own expiry.
    assert ring.verify(jwt_of(first), NOW + 24 * HOUR - 1) == {"exp": int(NOW + DAY)}
    assert ring.previous(NOW + 24 * HOUR - 1) == first
    with pytest.raises(TokenError, match=r"^token expired at 2026-05-02T12:00:00Z$"):
        ring.verify(jwt_of(first), NOW + 24 * HOUR)
    assert ring.previous(NOW + 24 * HOUR) is None
    assert ring.verify(jwt_of(second), NOW + 24 * HOUR) == {"exp": int(NOW + 36 * HOUR)}

    third = ring.current(NOW + 24 * HOUR)
    assert third not in (first, second)
    assert ring.previous(NOW + 24 * HOUR) == second


def test_ring_accepts_tokens_from_before_a_restart(ca):
    key, cert = ca
    old = tokens.issue_token(key, cert, now=NOW - HOUR)
    ring = TokenRing(key, cert)
    assert ring.verify(jwt_of(old), NOW) == {"exp": int(NOW - HOUR + DAY)}


def test_ring_rejects_foreign_and_forged_tokens(ca, other_ca):
    ring = TokenRing(*ca)
    ring.current(NOW)
    foreign = tokens.issue_token(*other_ca, now=NOW)
    with pytest.raises(TokenError, match=r"^invalid token signature"):
        ring.verify(jwt_of(foreign), NOW)
    with pytest.raises(TokenError, match=r"^malformed token"):
        ring.verify("garbage", NOW)


def test_ring_custom_durations_and_leeway(ca):
    key, cert = ca
    ring = TokenRing(key, cert, ttl=100, refresh=40, leeway=5)
    first = ring.current(1000)
    assert ring.current(1039) == first
    assert ring.current(1040) != first
    assert ring.verify(jwt_of(first), 1104) == {"exp": 1100}
    with pytest.raises(TokenError, match=r"token expired"):
        ring.verify(jwt_of(first), 1105)


@pytest.mark.parametrize(
    ("ttl", "refresh", "message"),
    [
        (DAY, 0, "refresh must be a positive number of seconds"),
        (DAY, -1, "refresh must be a positive number of seconds"),
        (12 * HOUR, 12 * HOUR, "must be longer than refresh"),
        (HOUR, 2 * HOUR, "must be longer than refresh"),
        (float("inf"), HOUR, "must be longer than refresh"),
    ],
)
def test_ring_rejects_bad_durations(ca, ttl, refresh, message):
    with pytest.raises(ValueError, match=message):
        TokenRing(*ca, ttl=ttl, refresh=refresh)


def test_ring_rejects_mismatched_key(ca, other_ca):
    with pytest.raises(TokenError, match=r"the CA key does not belong to the CA certificate"):
        TokenRing(other_ca[0], ca[1])
