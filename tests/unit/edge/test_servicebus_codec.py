"""ServiceBus contents (issue 7 contract items 3-5) and HTTP/1.1 heads: what is accepted, what is refused and
that the refusal names the culprit."""

from __future__ import annotations

import base64

import msgspec
import pytest

from kedge.edge.servicebus.codec import (
    BadRequest,
    HTTPRequest,
    HTTPResponse,
    b64decode,
    body_expected,
    content_length,
    end_to_end,
    headers_from,
    is_chunked,
    parse_app_request,
    parse_cloud_request,
    parse_cloud_response,
    parse_request_line,
    parse_resource,
    parse_status_line,
    parse_target_url,
    render_request,
    render_response,
    response_content,
    split_head,
    text_response,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_resource_is_port_and_path_with_query() -> None:
    assert parse_resource("8080:/target/x?a=1") == (8080, "/target/x?a=1")


@pytest.mark.parametrize("resource", ["8080", ":/x", "0:/x", "65536:/x", "abc:/x", "8080:x", "8080:/a b"])
def test_bad_resource_is_refused_naming_it(resource: str) -> None:
    with pytest.raises(BadRequest, match="resource"):
        parse_resource(resource)


def test_cloud_request_from_raw_json_content() -> None:
    content = msgspec.Raw(
        msgspec.json.encode(
            {
                "method": "post",
                "url": "/t?a=1",
                "header": {"X-A": ["1", "2"], "Host": ["evil"], "Content-Length": ["9"], "Y": "single"},
                "body": b64(b"hello"),
            }
        )
    )
    port, req = parse_cloud_request("POST", "9000:/t?a=1", content)
    assert port == 9000
    assert req == HTTPRequest("POST", "/t?a=1", {"X-A": ["1", "2"], "Y": ["single"]}, b"hello")


def test_cloud_request_method_falls_back_to_the_operation_and_body_may_be_absent() -> None:
    _, req = parse_cloud_request("delete", "80:/x", {"header": {}})
    assert (req.method, req.body) == ("DELETE", b"")
    _, req = parse_cloud_request("GET", "80:/x", None)
    assert req.method == "GET"


@pytest.mark.parametrize(
    ("content", "culprit"),
    [
        ({"method": "TRACE"}, "method"),
        ({"body": "not base64!"}, "request body"),
        ({"body": 5}, "request body"),
        ({"header": {"X": ["a\r\nInjected: 1"]}}, "line break"),
        ({"header": {"bad name": ["v"]}}, "header name"),
        ({"header": ["X"]}, "request header"),
        ({"header": {"X": [1]}}, "must be a string"),
        ([1, 2], "JSON object"),
        (b"{broken", "not valid JSON"),
    ],
)
def test_bad_cloud_request_is_refused_naming_the_field(content: object, culprit: str) -> None:
    with pytest.raises(BadRequest, match=culprit):
        parse_cloud_request("GET", "80:/x", content)


def test_response_content_is_base64() -> None:
    got = response_content(HTTPResponse(201, {"X": ["y"]}, b"\x00\xff"))
    assert got == {"status_code": 201, "header": {"X": ["y"]}, "body": b64(b"\x00\xff")}
    err = text_response(502, "app down")
    assert err.header["Content-Type"] == ["text/plain; charset=utf-8"] and err.body == b"app down"


def test_target_url() -> None:
    assert parse_target_url(b'{"target_url": " http://a.com/x "}') == "http://a.com/x"
    for bad in ({}, {"target_url": ""}, {"target_url": 3}, ["x"]):
        with pytest.raises(BadRequest, match="target_url"):
            parse_target_url(bad)


def test_app_request() -> None:
    got = parse_app_request(b'{"method": "put", "targetURL": "http://a.com", "payload": {"k": 1}}')
    assert got == {"method": "PUT", "targetURL": "http://a.com", "payload": {"k": 1}}
    assert parse_app_request(b'{"targetURL": "u"}') == {"method": "POST", "targetURL": "u", "payload": None}
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_app_request(b"{nope")
    with pytest.raises(BadRequest, match="targetURL"):
        parse_app_request(b'{"payload": 1}')
    with pytest.raises(BadRequest, match="JSON object"):
        parse_app_request(b"[]")
    with pytest.raises(BadRequest, match="method"):
        parse_app_request(b'{"targetURL": "u", "method": "BREW"}')


def test_cloud_response() -> None:
    got = parse_cloud_response(
        msgspec.Raw(
            b'{"status_code": 404, "header": {"A": ["b"], "Connection": ["x"]}, "body": "%s"}'
            % b64(b"nf").encode()
        )
    )
    assert got == HTTPResponse(404, {"A": ["b"]}, b"nf")
    for bad, culprit in (
        ({"status_code": "200"}, "status_code"),
        ({"status_code": 99}, "status_code"),
        ([], "object"),
    ):
        with pytest.raises(BadRequest, match=culprit):
            parse_cloud_response(bad)


def test_b64decode_empty() -> None:
    assert b64decode(None, "x") == b"" == b64decode("", "x")


def test_head_parsing() -> None:
    first, header = split_head(b"POST / HTTP/1.1\r\nHost: x\r\nA: 1\r\na: 2\r\n\r\n", "request")
    assert first == "POST / HTTP/1.1"
    assert header == {"Host": ["x"], "A": ["1"], "a": ["2"]}
    with pytest.raises(BadRequest, match="malformed header line"):
        split_head(b"GET / HTTP/1.1\r\nnocolon\r\n\r\n", "request")
    with pytest.raises(BadRequest, match="malformed header line"):
        split_head(b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", "request")
    assert parse_request_line("POST /x?y=1 HTTP/1.1") == ("POST", "/x?y=1")
    for bad in ("POST /x", "POST /x HTTP/2", "POST x HTTP/1.1", "PO ST / HTTP/1.1", " / HTTP/1.1"):
        with pytest.raises(BadRequest):
            parse_request_line(bad)
    assert parse_status_line("HTTP/1.1 200 OK") == 200
    assert parse_status_line("HTTP/1.0 404") == 404
    for bad in ("HTTP/1.1 2000 OK", "ICY 200 OK", "HTTP/1.1 abc", "HTTP/1.1 099 x"):
        with pytest.raises(BadRequest):
            parse_status_line(bad)


def test_framing_headers() -> None:
    assert content_length({"Content-Length": ["12"]}, "r") == 12
    assert content_length({"content-length": ["5, 5"]}, "r") == 5
    assert content_length({}, "r") is None
    for bad in (["-1"], ["1", "2"], ["x"]):
        with pytest.raises(BadRequest, match="Content-Length"):
            content_length({"Content-Length": bad}, "r")
    assert is_chunked({"Transfer-Encoding": ["Chunked"]}, "r")
    assert not is_chunked({}, "r")
    with pytest.raises(BadRequest, match="gzip"):
        is_chunked({"Transfer-Encoding": ["gzip, chunked"]}, "r")
    assert not body_expected("HEAD", 200) and not body_expected("GET", 204) and not body_expected("GET", 304)
    assert body_expected("GET", 200)


def test_render() -> None:
    raw = render_request(HTTPRequest("POST", "/p?q=1", {"X": ["1"], "Connection": ["keep"]}, b"abc"), "h:1")
    assert (
        raw
        == b"POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\nX: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    )
    assert b"Content-Length" not in render_request(HTTPRequest("GET", "/", {}, b""), "h")
    assert b"Content-Length: 0" in render_request(HTTPRequest("POST", "/", {}, b""), "h")
    out = render_response(HTTPResponse(403, {"Transfer-Encoding": ["chunked"], "X": ["y"]}, b"no"))
    assert out == b"HTTP/1.1 403 Forbidden\r\nX: y\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
    assert render_response(HTTPResponse(299, {}, b"z"), head_only=True).endswith(
        b"Unknown\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"
    )
    assert headers_from(None, "h") == {} and end_to_end({"HOST": ["x"], "A": ["b"]}) == {"A": ["b"]}
