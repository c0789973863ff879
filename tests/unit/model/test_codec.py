"""Decode errors on every codec path: anything malformed is a MessageDecodeError (the transports catch
only that, and close just the offending session)."""

import pytest

from kedge.model.codec import MessageDecodeError, decode_json, decode_msgpack
from kedge.model.frames import decode_frame


def test_invalid_utf8_is_a_decode_error_on_every_path() -> None:
    """A string that is not UTF-8 must surface as MessageDecodeError (the transports catch only that)."""
    bad = b"\xa2\xff\xfe"  # msgpack str of 2 bytes that are not UTF-8
    native = b"\x9d" + bad + b"\xa0" * 12  # a 13-field native message whose msg_id is bad
    with pytest.raises(MessageDecodeError):
        decode_msgpack(native)
    with pytest.raises(MessageDecodeError):
        decode_frame(b"\x92\x91" + native + b"\x90")
    with pytest.raises(MessageDecodeError):
        decode_json(b'{"header":{"msg_id":"\xff\xfe"}}')
