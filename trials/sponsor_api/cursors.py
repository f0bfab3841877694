"""Opaque page cursors: the position inside a cursor is sealed, not just base64.

DRF's cursor is base64 of the last row's ordering value, here a primary key. Readable, it
would tell a sponsor how many rows the whole registry holds, other sponsors' included.
The cursor is encrypted with an HMAC-SHA256 keystream (a fresh random nonce each time) and
authenticated with a separate HMAC key, both derived from SECRET_KEY: a sponsor can neither
read it nor forge one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from django.conf import settings

NONCE, TAG = 12, 16


def _key(purpose: str) -> bytes:
    return hashlib.sha256(f"dyad.api.cursor.{purpose}:{settings.SECRET_KEY}".encode()).digest()


def _keystream(nonce: bytes, length: int) -> bytes:
    key, blocks = _key("encrypt"), []
    for counter in range(0, length, 32):
        blocks.append(hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def seal(text: str) -> str:
    plain = text.encode()
    nonce = os.urandom(NONCE)
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(nonce, len(plain)), strict=True))
    tag = hmac.new(_key("authenticate"), nonce + cipher, hashlib.sha256).digest()[:TAG]
    return base64.urlsafe_b64encode(nonce + cipher + tag).decode().rstrip("=")


def unseal(token: str) -> str | None:
    """The sealed text, or None for anything this server did not seal."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < NONCE + TAG:
        return None
    nonce, cipher, tag = raw[:NONCE], raw[NONCE:-TAG], raw[-TAG:]
    expected = hmac.new(_key("authenticate"), nonce + cipher, hashlib.sha256).digest()[:TAG]
    if not hmac.compare_digest(tag, expected):
        return None
    plain = bytes(a ^ b for a, b in zip(cipher, _keystream(nonce, len(cipher)), strict=True))
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None
