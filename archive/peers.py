"""Pinned peers, their roles, and revocations.

A peer is pinned only after the user confirms its fingerprint, obtained in person or
by voice. Peer rows are sealed in the index (name, role and keys are never in clear)
with AAD = the row id, which authenticates every field of the row before use.

Two kinds of revocation travel in bundles:
- a self-revocation certificate (`init` writes one): the key itself says it is dead;
- a peer revocation: a pinned peer (or we) says it no longer trusts a key.
Either one makes the key untrusted here from its date on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from . import constants as C
from . import crypto
from .encoding import canonical, from_hex, parse_time
from .errors import FormatError, TrustError, UsageError
from .keys import IdentityCard, SecretKeys, card_from_dict, fingerprint, parse_revocation
from .signed import sign_document, verify_document


@dataclass(frozen=True)
class Peer:
    name: str
    role: str
    card: IdentityCard
    pinned: str
    revoked: str | None = None          # when the key stopped being trusted here
    revoked_by: str | None = None       # fingerprint of who said so

    @property
    def fingerprint(self) -> str:
        return self.card.fingerprint

    @property
    def trusted(self) -> bool:
        return self.revoked is None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "card": self.card.to_dict(),
                "pinned": self.pinned, "revoked": self.revoked, "revoked_by": self.revoked_by}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "Peer":
        return cls(value["name"], value["role"], card_from_dict(value["card"]), value["pinned"],
                   value["revoked"], value["revoked_by"])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "fingerprint": self.fingerprint,
                "card_name": self.card.name, "pinned": self.pinned, "revoked": self.revoked,
                "revoked_by": self.revoked_by}


def normalise_fingerprint(typed: str) -> str:
    """What a person typed (spaces, dashes, any case) → lowercase hex, 32 or 64 digits."""
    cleaned = re.sub(r"[\s:-]", "", typed).lower()
    if len(cleaned) not in (32, 64) or any(c not in "0123456789abcdef" for c in cleaned):
        raise UsageError("a fingerprint is 32 hex digits (as `identity show` groups them) or all 64")
    return cleaned


def confirm_fingerprint(card: IdentityCard, typed: str) -> None:
    expected = normalise_fingerprint(typed)
    if not crypto.constant_time_equal(card.fingerprint[:len(expected)].encode(), expected.encode()):
        raise TrustError("the card's fingerprint does not match the one you were given; "
                         "nothing was pinned",
                         hint="ask the peer again in person or by voice; the card may have been swapped")


def new_peer(card: IdentityCard, *, name: str, role: str, typed_fingerprint: str, now: str,
             own: IdentityCard) -> Peer:
    if role not in C.PEER_ROLES:
        raise UsageError(f"role must be one of {', '.join(C.PEER_ROLES)}")
    if not name.strip():
        raise UsageError("a peer needs a name")
    if card.fingerprint == own.fingerprint:
        raise UsageError("that card is this archive's own identity")
    confirm_fingerprint(card, typed_fingerprint)
    return Peer(name.strip(), role, card, now)


# --- revocations -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Revocation:
    """A checked revocation: `revoked` key fingerprint, by whom, when, and the signed form."""

    revoked: str
    revoker: str            # equal to `revoked` for a self-revocation certificate
    created: str
    signed: dict[str, Any]

    @property
    def is_self(self) -> bool:
        return self.revoked == self.revoker


def peer_revocation(keys: SecretKeys, peer: Peer, *, created: str) -> Revocation:
    body = {"type": C.LOCAL_REVOCATION_TYPE, "version": C.FORMAT_VERSION,
            "revoker": keys.card.to_dict(), "revoked": peer.fingerprint, "created": created}
    return Revocation(peer.fingerprint, keys.card.fingerprint, created,
                      sign_document(keys.sign_seed, body, purpose=C.REVOCATION))


def check_revocation(value: Any) -> Revocation:
    """Verify either kind of revocation; FormatError or SignatureError if it is not sound."""
    if not isinstance(value, dict):
        raise FormatError("a revocation is not an object")
    if value.get("type") == C.REVOCATION_TYPE:
        cert = parse_revocation(canonical(value))
        return Revocation(cert["fingerprint"], cert["fingerprint"], cert["created"], value)
    if value.get("type") != C.LOCAL_REVOCATION_TYPE:
        raise FormatError("unknown revocation type")
    if set(value) != {"type", "version", "revoker", "revoked", "created", "signature"} \
            or type(value["version"]) is not int or value["version"] != C.FORMAT_VERSION:
        raise FormatError("a peer revocation is malformed")
    revoker = card_from_dict(value["revoker"])
    from_hex(value["revoked"], length=32, what="revoked fingerprint")
    parse_time(value["created"], what="revocation created")
    verify_document(value, revoker.sign_key, purpose=C.REVOCATION, what="a revocation")
    return Revocation(value["revoked"], revoker.fingerprint, value["created"], value)


def apply_revocation(peer: Peer, revocation: Revocation, *, effective: str) -> Peer:
    """The peer as revoked from the earliest date anyone sound said so."""
    if peer.revoked is not None and peer.revoked <= effective:
        return peer
    return replace(peer, revoked=effective, revoked_by=revocation.revoker)


def effective_date(revocation: Revocation, *, now: str) -> str:
    """When a revocation takes effect here.

    A peer revocation takes effect at its date. A self-revocation certificate is signed
    ahead of need (at `init`), so its date says nothing: it takes effect when this
    archive first learns of it. Statements made before then stay valid, shown with the
    revocation date.
    """
    return now if revocation.is_self else revocation.created


def fingerprint_of_author(author: dict[str, str]) -> str:
    return fingerprint(bytes.fromhex(author["sign_key"]), bytes.fromhex(author["box_key"]))
