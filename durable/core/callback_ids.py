"""Callback ids: unguessable, unforgeable handles that outside systems hold.

An id is `base64url(body).base64url(tag)`: the body is a version byte, 16
random bytes (128 bits nobody can guess) and the callback's execution and
operation ids; the tag is an HMAC-SHA256 of the body under the engine's
secret key.  So the engine finds the callback from the id alone, and an id
that was forged or changed in any character fails the tag check before
anything is read from the store.  Every failure is the same
`UnknownCallbackError`: the caller learns nothing about which part was wrong.

The key lives beside the store (`durable.stores.signing_key`), so ids stay
valid across engine restarts on the same store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from durable.exceptions import UnknownCallbackError

_VERSION = b"\x01"
_NONCE_BYTES = 16


class CallbackIds:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a callback signing key needs at least 16 bytes")
        self._key = key

    def mint(self, execution_id: str, operation_id: str) -> str:
        body = _VERSION + secrets.token_bytes(_NONCE_BYTES) + f"{execution_id}\x00{operation_id}".encode()
        return f"{_encode(body)}.{_encode(self._tag(body))}"

    def open(self, callback_id: str) -> tuple[str, str]:
        """The (execution id, operation id) an authentic id names; UnknownCallbackError otherwise."""
        encoded_body, dot, encoded_tag = callback_id.partition(".") if isinstance(callback_id, str) else ("", "", "")
        try:
            body, tag = _decode(encoded_body), _decode(encoded_tag)
        except (binascii.Error, ValueError):
            raise UnknownCallbackError() from None
        if not dot or not hmac.compare_digest(tag, self._tag(body)) or not body.startswith(_VERSION):
            raise UnknownCallbackError()
        try:
            execution_id, operation_id = body[1 + _NONCE_BYTES:].decode().split("\x00")
        except (UnicodeDecodeError, ValueError):
            raise UnknownCallbackError() from None
        return execution_id, operation_id

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """Strict: only the one canonical spelling decodes (unpadded base64 ignores a last character's spare bits)."""
    if not text or len(text) > 4096:
        raise ValueError("not an id")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _encode(data) != text:
        raise ValueError("not canonical")
    return data
