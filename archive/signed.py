"""Signed JSON documents: `{…fields, "signature": hex}` signed over the canonical
document without its signature. One way to make and check them, for revocations,
custody events and tree heads.

Imports sign and check thousands of these, so each is encoded once: the bytes without
the signature are cut out of the canonical document (canonical JSON is the members in
key order, joined by commas, so dropping one member gives the canonical form of the rest).
"""

from __future__ import annotations

from typing import Any

from . import crypto
from .encoding import canonical, from_hex, to_hex
from .errors import FormatError, SignatureError
from .keys import SecretKeys, fingerprint

_SIGNATURE_KEY = b'"signature":"'
_PLACEHOLDER = "0" * 128   # as long as a real signature, so nothing else moves


def sign_document(seed: bytes, body: dict[str, Any], *, purpose: bytes) -> dict[str, Any]:
    return sign_document_encoded(seed, body, purpose=purpose)[0]


def sign_document_encoded(seed: bytes, body: dict[str, Any], *,
                          purpose: bytes) -> tuple[dict[str, Any], bytes]:
    """The signed document and its canonical bytes, from one encoding."""
    draft = canonical({**body, "signature": _PLACEHOLDER})
    unsigned = _without_signature(draft, _PLACEHOLDER)
    if unsigned is None:   # a nested "signature" key: encode the long way
        signature = to_hex(crypto.sign(seed, purpose=purpose, message=canonical(body)))
        signed = {**body, "signature": signature}
        return signed, canonical(signed)
    signature = to_hex(crypto.sign(seed, purpose=purpose, message=unsigned))
    raw = draft.replace(_member(_PLACEHOLDER), _member(signature))
    return {**body, "signature": signature}, raw


def verify_document(value: dict[str, Any], sign_key: bytes, *, purpose: bytes, what: str,
                    encoded: bytes | None = None) -> None:
    """SignatureError naming `what` unless `signature` holds over the rest of `value`.
    `encoded`, when given, must be canonical(value): it saves encoding `value` again."""
    signature = from_hex(value["signature"], length=64, what=f"{what} signature")
    unsigned = _without_signature(encoded, value["signature"]) if encoded is not None else None
    if unsigned is None:
        unsigned = canonical({k: v for k, v in value.items() if k != "signature"})
    try:
        crypto.verify(sign_key, purpose=purpose, message=unsigned, signature=signature)
    except SignatureError as e:
        raise SignatureError(f"{what} has a bad signature") from e


def _member(signature_hex: str) -> bytes:
    return _SIGNATURE_KEY + signature_hex.encode("ascii") + b'"'


def _without_signature(encoded: bytes, signature_hex: str) -> bytes | None:
    """canonical(document without "signature") cut out of canonical(document), or None
    when a nested "signature" key makes the top-level member ambiguous. Inside a JSON
    string every quote is escaped, so each unescaped `"signature":"` is a key."""
    if encoded.count(_SIGNATURE_KEY) != 1:
        return None
    member = _member(signature_hex)
    start = encoded.find(member)
    if start < 0:
        return None
    end = start + len(member)
    if encoded[start - 1:start] == b",":
        start -= 1
    elif encoded[end:end + 1] == b",":
        end += 1
    return encoded[:start] + encoded[end:]


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
