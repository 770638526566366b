"""The peers this archive trusts, kept sealed in the index, and the revocations it knows."""

from __future__ import annotations

from typing import Any

from . import constants as C
from . import crypto
from .encoding import canonical, parse_canonical
from .errors import NotFoundError, TrustError, UsageError
from .index import Index
from .sealedrows import MetaSealer
from .keys import IdentityCard, SecretKeys
from .peers import (Peer, Revocation, apply_revocation, check_revocation, effective_date, new_peer,
                    peer_revocation)

DEFAULT_RECIPIENTS = "default_recipients"
UNVERIFIED = "unverified author (key not pinned here)"


class PeerBook:
    def __init__(self, index: Index, sealer: MetaSealer, own: IdentityCard) -> None:
        self._index, self._sealer, self._own = index, sealer, own

    # --- reading ---------------------------------------------------------------------------
    def all(self) -> list[Peer]:
        peers = [Peer.from_dict(self._sealer.open(pid, sealed))
                 for pid, sealed in self._index.all_sealed("peers", "id")]
        return sorted(peers, key=lambda p: p.name.casefold())

    def by_fingerprint(self, fingerprint: str) -> Peer | None:
        pid = self._sealer.peer_id(fingerprint)
        sealed = self._index.get_sealed("peers", "id", pid)
        return Peer.from_dict(self._sealer.open(pid, sealed)) if sealed else None

    def by_name(self, name: str) -> Peer:
        for peer in self.all():
            if peer.name == name:
                return peer
        raise NotFoundError(f"no peer named {name!r}", hint="`testimony peers list` shows them")

    def peer_id(self, peer: Peer) -> str:
        return self._sealer.peer_id(peer.fingerprint)

    def sign_key_for(self, fingerprint: str) -> bytes:
        """A bundle sender's signing key, only if pinned and not revoked."""
        peer = self.by_fingerprint(fingerprint)
        if peer is None:
            raise TrustError(f"the bundle's sender (key {fingerprint[:16]}…) is not a pinned peer",
                             hint="pin it with `testimony peers add CARD` after checking its fingerprint")
        if not peer.trusted:
            raise TrustError(f"the bundle's sender {peer.name!r} was revoked on {peer.revoked}")
        return peer.card.sign_key

    def describe(self, fingerprint: str, *, unknown: str = UNVERIFIED) -> str:
        """How a signer is shown: ours, a pinned peer, a revoked one, or unverified."""
        if fingerprint == self._own.fingerprint:
            return "this archive's own key"
        peer = self.by_fingerprint(fingerprint)
        if peer is None:
            return unknown
        if not peer.trusted:
            return f"{peer.name}, key REVOKED on {peer.revoked}"
        return f"{peer.name} ({peer.role}), pinned {peer.pinned[:10]}"

    def is_trusted(self, fingerprint: str) -> bool:
        if fingerprint == self._own.fingerprint:
            return True
        peer = self.by_fingerprint(fingerprint)
        return peer is not None and peer.trusted

    # --- writing ---------------------------------------------------------------------------
    def _put(self, peer: Peer) -> None:
        pid = self.peer_id(peer)
        self._index.put_sealed("peers", "id", pid, self._sealer.seal(pid, peer.to_dict()))

    def add(self, card: IdentityCard, *, name: str, role: str, typed_fingerprint: str,
            now: str) -> Peer:
        peer = new_peer(card, name=name, role=role, typed_fingerprint=typed_fingerprint, now=now,
                        own=self._own)
        existing = self.by_fingerprint(card.fingerprint)
        if existing is not None:
            raise UsageError(f"that key is already pinned as {existing.name!r}")
        if any(p.name == peer.name for p in self.all()):
            raise UsageError(f"a peer is already named {peer.name!r}")
        with self._index.transaction():
            self._put(peer)
            # A revocation that arrived before we pinned the key still applies.
            for revocation, effective in self.revocations():
                if revocation.revoked == peer.fingerprint and self._accepts(revocation):
                    peer = apply_revocation(peer, revocation, effective=effective)
                    self._put(peer)
        return peer

    def revoke(self, name: str, keys: SecretKeys, *, now: str) -> Peer:
        peer = self.by_name(name)
        if not peer.trusted:
            raise UsageError(f"{name!r} is already revoked (since {peer.revoked})")
        revocation = peer_revocation(keys, peer, created=now)
        with self._index.transaction():
            self.apply(revocation, now=now)
        return self.by_name(name)

    def import_certificate(self, untrusted: bytes, *, now: str) -> Revocation:
        """A self-revocation certificate given by hand (e.g. the one `init` wrote)."""
        revocation = check_revocation(parse_canonical(untrusted.removesuffix(b"\n"),
                                                      what="revocation certificate"))
        with self._index.transaction():
            self.apply(revocation, now=now)
        return revocation

    def _accepts(self, revocation: Revocation) -> bool:
        """A key may revoke itself; otherwise only we or a trusted peer may revoke it."""
        return revocation.is_self or self.is_trusted(revocation.revoker)

    def apply(self, revocation: Revocation, *, now: str) -> bool:
        """Store and apply a checked revocation (inside the caller's transaction)."""
        if not self._accepts(revocation):
            return False
        effective = self.store_revocation(revocation, effective_date(revocation, now=now))
        peer = self.by_fingerprint(revocation.revoked)
        if peer is not None:
            self._put(apply_revocation(peer, revocation, effective=effective))
        return True

    def store_revocation(self, revocation: Revocation, effective: str) -> str:
        """Keep a revocation to forward; return its effective date (the first one seen)."""
        rid = crypto.labelled_hash(C.REVOCATION, canonical(revocation.signed))
        sealed = self._index.get_sealed("revocations", "id", rid)
        if sealed is not None:
            return self._sealer.open(rid.hex(), sealed)["effective"]
        self._index.put_sealed("revocations", "id", rid, self._sealer.seal(
            rid.hex(), {"signed": revocation.signed, "effective": effective}))
        return effective

    def revocations(self) -> list[tuple[Revocation, str]]:
        """Every known revocation, with the date it took effect here."""
        rows = [self._sealer.open(rid.hex(), sealed)
                for rid, sealed in self._index.all_sealed("revocations", "id")]
        return [(check_revocation(row["signed"]), row["effective"]) for row in rows]

    # --- default recipients ----------------------------------------------------------------
    def defaults(self) -> list[str]:
        sealed = self._index.get_sealed("settings", "key", DEFAULT_RECIPIENTS)
        return self._sealer.open(DEFAULT_RECIPIENTS, sealed) if sealed else []

    def set_defaults(self, names: list[str]) -> list[str]:
        for name in names:
            if not self.by_name(name).trusted:
                raise TrustError(f"{name!r} is revoked and cannot be a recipient")
        value: Any = sorted(set(names))
        with self._index.transaction():
            self._index.put_sealed("settings", "key", DEFAULT_RECIPIENTS,
                                   self._sealer.seal(DEFAULT_RECIPIENTS, value))
        return value

    def recipients(self, names: list[str]) -> list[Peer]:
        """Trusted peers by name; the defaults when no name is given."""
        chosen = [self.by_name(n) for n in (names or self.defaults())]
        for peer in chosen:
            if not peer.trusted:
                raise TrustError(f"{peer.name!r} was revoked on {peer.revoked}; nothing was sent to it")
        return chosen
