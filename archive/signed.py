"""Signed JSON documents: `{…fields, "signature": hex}` signed over the canonical
document without its signature. One way to make and check them, for revocations,
custody events and tree heads."""

from __future__ import annotations

from typing import Any

from . import crypto
from .encoding import canonical, from_hex, to_hex
from .errors import FormatError, SignatureError
from .keys import SecretKeys, fingerprint


def sign_document(seed: bytes, body: dict[str, Any], *, purpose: bytes) -> dict[str, Any]:
    return {**body, "signature": to_hex(crypto.sign(seed, purpose=purpose, message=canonical(body)))}


def verify_document(value: dict[str, Any], sign_key: bytes, *, purpose: bytes, what: str) -> None:
    """SignatureError naming `what` unless `signature` holds over the rest of `value`."""
    body = {k: v for k, v in value.items() if k != "signature"}
    try:
        crypto.verify(sign_key, purpose=purpose, message=canonical(body),
                      signature=from_hex(value["signature"], length=64, what=f"{what} signature"))
    except SignatureError as e:
        raise SignatureError(f"{what} has a bad signature") from e


def public_keys(keys: SecretKeys) -> dict[str, str]:
    """The `{sign_key, box_key}` object that names a signer inside a document."""
    return {"sign_key": to_hex(keys.card.sign_key), "box_key": to_hex(keys.card.box_key)}


def read_public_keys(value: Any, *, what: str) -> tuple[bytes, bytes, str]:
    """(sign key, box key, fingerprint) from a `{sign_key, box_key}` object."""
    if not (isinstance(value, dict) and set(value) == {"sign_key", "box_key"}):
        raise FormatError(f"{what} is malformed")
    sign_key = from_hex(value["sign_key"], length=32, what=f"{what} sign_key")
    box_key = from_hex(value["box_key"], length=32, what=f"{what} box_key")
    return sign_key, box_key, fingerprint(sign_key, box_key)
