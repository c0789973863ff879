"""ServiceBus's wire contents, pure (issue 7 contract items 3-5): what the cloud's requests and answers
carry, what an edge app POSTs, and the HTTP/1.1 head lines in between. Every check raises BadRequest
with a message naming the field that is wrong, so the cloud or the app sees why it was refused."""

from __future__ import annotations

import base64
import binascii
import http
from dataclasses import dataclass, field
from typing import Any

import msgspec

MiB = 1 << 20
#: Largest edge-app response returned to the cloud (KubeEdge: 5 MB).
MAX_RESPONSE_BODY = 5 * MiB
#: Largest request an edge app may POST to the ServiceBus server (KubeEdge: 12 MiB).
MAX_REQUEST_BODY = 12 * MiB
#: Largest request or status line plus headers read from a peer.
MAX_HEAD = 64 * 1024
METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"))
#: Headers this side sets itself; never copied from a request or answer.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

Headers = dict[str, list[str]]


class BadRequest(ValueError):
    """A content, head line or body that breaks the contract; the text says what is wrong."""


@dataclass(slots=True)
class HTTPRequest:
    method: str
    path: str
    header: Headers = field(default_factory=dict)
    body: bytes = b""


@dataclass(slots=True)
class HTTPResponse:
    status_code: int
    header: Headers = field(default_factory=dict)
    body: bytes = b""


_decoder = msgspec.json.Decoder()


def json_value(content: Any, what: str) -> Any:
    """A message content or HTTP body as a Python value: raw JSON, bytes and str are decoded."""
    if isinstance(content, (msgspec.Raw, bytes, bytearray, memoryview, str)):
        try:
            return _decoder.decode(content)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise BadRequest("%s is not valid JSON: %s" % (what, e)) from None
    return content


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise BadRequest("%s must be a base64 string, got %s" % (what, type(value).__name__))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadRequest("%s is not valid base64: %s" % (what, e)) from None


def check_header_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or not _TOKEN.issuperset(name):
        raise BadRequest("%s: invalid header name %r" % (what, name))
    return name


def check_header_value(value: Any, name: str, what: str) -> str:
    if not isinstance(value, str):
        raise BadRequest("%s: header %s value must be a string, got %s" % (what, name, type(value).__name__))
    if "\r" in value or "\n" in value or "\0" in value:
        raise BadRequest("%s: header %s value contains a line break or NUL" % (what, name))
    return value


def headers_from(value: Any, what: str) -> Headers:
    """`{name: [values]}` (a single string value is accepted too), checked for header injection."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("%s must be an object {name: [values]}, got %s" % (what, type(value).__name__))
    out: Headers = {}
    for name, values in value.items():
        check_header_name(name, what)
        if isinstance(values, str):
            values = [values]
        elif not isinstance(values, list):
            raise BadRequest("%s: header %s must be a list of strings" % (what, name))
        out[name] = [check_header_value(v, name, what) for v in values]
    return out


def end_to_end(header: Headers) -> Headers:
    """`header` without the hop-by-hop fields this side sets itself."""
    return {k: v for k, v in header.items() if k.lower() not in HOP_BY_HOP}


# -- cloud → edge app (contract 3) ------------------------------------------------------------------


def parse_resource(resource: str) -> tuple[int, str]:
    """`<service_port>:<path>` → (port, path); the path starts with "/" and may carry a query."""
    port_s, sep, path = resource.partition(":")
    if not sep or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise BadRequest("resource %r is not <service_port>:<path> with a port in 1..65535" % resource)
    check_target(path, "resource %r" % resource)
    return int(port_s), path


def check_target(path: str, what: str) -> str:
    if not path.startswith("/") or any(ch <= " " or ch == "\x7f" for ch in path):
        raise BadRequest(
            "%s: path %r must start with / and contain no spaces or control characters" % (what, path)
        )
    return path


def parse_cloud_request(operation: str, resource: str, content: Any) -> tuple[int, HTTPRequest]:
    """The app call a `router_servicebus` message asks for: (port, request)."""
    port, path = parse_resource(resource)
    value = json_value(content, "request content")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise BadRequest("request content must be a JSON object, got %s" % type(value).__name__)
    method = value.get("method") or operation
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadRequest("method %r is not one of %s" % (method, ", ".join(sorted(METHODS))))
    header = end_to_end(headers_from(value.get("header"), "request header"))
    body = b64decode(value.get("body"), "request body")
    return port, HTTPRequest(method.upper(), path, header, body)


def response_content(resp: HTTPResponse) -> dict[str, Any]:
    """The answer to the cloud: `{"status_code", "header", "body": base64}`."""
    return {"status_code": resp.status_code, "header": resp.header, "body": b64encode(resp.body)}


def text_response(status: int, text: str) -> HTTPResponse:
    """A plain-text error answer (502 app down, 504 timeout, 413 too large, 400 bad request...)."""
    return HTTPResponse(status, {"Content-Type": ["text/plain; charset=utf-8"]}, text.encode())


# -- allow-list (contract 4) ------------------------------------------------------------------------


def parse_target_url(content: Any) -> str:
    """The URL of a `start`/`stop` message: `{"target_url": "<url>"}`."""
    value = json_value(content, "allow-list content")
    url = value.get("target_url") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.strip():
        raise BadRequest('allow-list content must be {"target_url": "<url>"}, got %r' % (value,))
    return url.strip()


# -- edge app → cloud (contract 5) ------------------------------------------------------------------


def parse_app_request(body: bytes) -> dict[str, Any]:
    """What an edge app POSTs: `{"method", "targetURL", "payload"}` → the upstream message content."""
    value = json_value(body, "request body")
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object, got %s" % type(value).__name__)
    url = value.get("targetURL")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("targetURL must be a non-empty string, got %r" % (url,))
    method = value.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadRequest("method %r is not one of %s" % (method, ", ".join(sorted(METHODS))))
    return {"method": method.upper(), "targetURL": url.strip(), "payload": value.get("payload")}


def parse_cloud_response(content: Any) -> HTTPResponse:
    """The cloud Router's answer to an upstream request: `{"status_code", "header", "body": base64}`."""
    value = json_value(content, "cloud response")
    if not isinstance(value, dict):
        raise BadRequest("cloud response must be a JSON object, got %s" % type(value).__name__)
    status = value.get("status_code")
    if type(status) is not int or not 100 <= status <= 599:
        raise BadRequest("cloud response status_code must be an integer in 100..599, got %r" % (status,))
    header = end_to_end(headers_from(value.get("header"), "cloud response header"))
    return HTTPResponse(status, header, b64decode(value.get("body"), "cloud response body"))


# -- HTTP/1.1 heads ---------------------------------------------------------------------------------


def split_head(head: bytes, what: str) -> tuple[str, Headers]:
    """A head (through the blank line) → (first line, headers); obsolete line folding is refused."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest("%s head is not latin-1" % what) from None
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise BadRequest("%s: empty head" % what)
    header: Headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or line[:1] in (" ", "\t"):
            raise BadRequest("%s: malformed header line %r" % (what, line[:100]))
        check_header_name(name, what)
        header.setdefault(name, []).append(check_header_value(value.strip(" \t"), name, what))
    return lines[0], header


def get_header(header: Headers, name: str) -> list[str]:
    name = name.lower()
    return [v for k, vs in header.items() if k.lower() == name for v in vs]


def content_length(header: Headers, what: str) -> int | None:
    """The Content-Length (None if absent); differing or non-numeric values are refused."""
    values = {v.strip() for v in get_header(header, "content-length") for v in v.split(",")}
    if not values:
        return None
    if len(values) > 1 or not next(iter(values)).isdigit():
        raise BadRequest("%s: invalid Content-Length %s" % (what, sorted(values)))
    return int(next(iter(values)))


def is_chunked(header: Headers, what: str) -> bool:
    codings = [c.strip().lower() for v in get_header(header, "transfer-encoding") for c in v.split(",")]
    if not codings:
        return False
    if codings != ["chunked"]:
        raise BadRequest("%s: unsupported Transfer-Encoding %s" % (what, ", ".join(codings)))
    return True


def parse_request_line(line: str) -> tuple[str, str]:
    """`METHOD target HTTP/1.x` → (method, target)."""
    parts = line.split(" ")
    if (
        len(parts) != 3
        or parts[2] not in ("HTTP/1.1", "HTTP/1.0")
        or not parts[0]
        or not _TOKEN.issuperset(parts[0])
    ):
        raise BadRequest("malformed request line %r" % line[:100])
    check_target(parts[1], "request line")
    return parts[0], parts[1]


def parse_status_line(line: str) -> int:
    """`HTTP/1.x NNN reason` → NNN."""
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise BadRequest("malformed status line %r" % line[:100])
    status = int(code)
    if not 100 <= status <= 599:
        raise BadRequest("status %d out of range in %r" % (status, line[:100]))
    return status


def render_head(first_line: str, header: Headers) -> bytes:
    lines = [first_line]
    lines.extend("%s: %s" % (k, v) for k, vs in header.items() for v in vs)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1", "replace")


def render_request(req: HTTPRequest, host: str) -> bytes:
    """The request to an edge app, `Connection: close`, with a Content-Length when there is a body."""
    header: Headers = {"Host": [host]}
    header.update(end_to_end(req.header))
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        header["Content-Length"] = [str(len(req.body))]
    header["Connection"] = ["close"]
    return render_head("%s %s HTTP/1.1" % (req.method, req.path), header) + req.body


def render_response(resp: HTTPResponse, head_only: bool = False) -> bytes:
    """The answer to an edge app, `Connection: close`."""
    try:
        reason = http.HTTPStatus(resp.status_code).phrase
    except ValueError:
        reason = "Unknown"
    header = end_to_end(resp.header)
    header["Content-Length"] = [str(len(resp.body))]
    header["Connection"] = ["close"]
    head = render_head("HTTP/1.1 %d %s" % (resp.status_code, reason), header)
    return head if head_only else head + resp.body


def body_expected(method: str, status: int) -> bool:
    """Whether a response to `method` with `status` has a body (RFC 9112 §6.3)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)
