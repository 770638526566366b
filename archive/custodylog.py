"""The custody log as a Merkle tree (RFC 9162) with signed tree heads.

Every archive appends the custody events it signs to its own log. A signed tree head
commits to every event so far; an inclusion proof shows one event under a head; a
consistency proof shows that a later head only appended to an earlier one. Bundles
carry the sender's latest head, inclusion proofs for the events they carry, and
consistency proofs from every head the sender showed the recipient before, so an
importer notices a log that forked or shrank, refuses it, and keeps both heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import constants as C
from . import crypto, merkle
from .custody import CustodyEvent
from .encoding import canonical, from_hex, parse_time, to_hex
from .errors import FormatError, IntegrityError, RollbackError
from .sealedrows import MetaSealer
from .keys import SecretKeys
from .signed import public_keys, read_public_keys, sign_document, verify_document

if TYPE_CHECKING:   # the log's owner passes its Index; workers checking proofs need no SQLite
    from .index import Index

_HEAD_FIELDS = {"type", "version", "log", "size", "root", "time", "signature"}


@dataclass(frozen=True)
class TreeHead:
    """A tree head whose signature held."""

    log: str            # fingerprint of the log's owner
    size: int
    root: bytes
    time: str
    signed: dict[str, Any]

    @property
    def head_id(self) -> bytes:
        return crypto.labelled_hash(C.TREE_HEAD, canonical(self.signed))


def sign_head(keys: SecretKeys, *, size: int, root: bytes, time: str) -> TreeHead:
    body = {"type": C.TREE_HEAD_TYPE, "version": C.FORMAT_VERSION, "log": public_keys(keys),
            "size": size, "root": to_hex(root), "time": time}
    return TreeHead(keys.card.fingerprint, size, root, time,
                    sign_document(keys.sign_seed, body, purpose=C.TREE_HEAD))


def check_head(value: Any) -> TreeHead:
    if not isinstance(value, dict) or set(value) != _HEAD_FIELDS:
        raise FormatError("a tree head has missing or unknown fields")
    if value["type"] != C.TREE_HEAD_TYPE or type(value["version"]) is not int \
            or value["version"] != C.FORMAT_VERSION:
        raise FormatError("a tree head has an unknown type or version")
    sign_key, _, log = read_public_keys(value["log"], what="a tree head's log")
    if type(value["size"]) is not int or not 0 <= value["size"] <= 2**53 - 1:
        raise FormatError("a tree head's size is malformed")
    root = from_hex(value["root"], length=32, what="tree root")
    parse_time(value["time"], what="tree head time")
    verify_document(value, sign_key, purpose=C.TREE_HEAD, what="a custody log's tree head")
    return TreeHead(log, value["size"], root, value["time"], value)


def check_inclusion(event: CustodyEvent, inclusion: Any, heads: dict[bytes, TreeHead]) -> TreeHead:
    """Verify `{head, index, proof}` for an event against the head it names."""
    if not (isinstance(inclusion, dict) and set(inclusion) == {"head", "index", "proof"}
            and type(inclusion["index"]) is int and isinstance(inclusion["proof"], list)):
        raise FormatError("an inclusion proof is malformed")
    head = heads.get(from_hex(inclusion["head"], length=32, what="head id"))
    if head is None:
        raise FormatError("an inclusion proof names a tree head that was not given")
    hashes = inclusion["proof"]
    if not all(type(p) is str and len(p) == 64 for p in hashes):
        raise FormatError("an inclusion proof hash is not 32 bytes of lowercase hex")
    joined = from_hex("".join(hashes), what="an inclusion proof")   # one parse, not one per hash
    proof = [joined[i:i + 32] for i in range(0, len(joined), 32)]
    if head.log != event.actor or not merkle.verify_inclusion(
            leaf_hash=event.leaf_hash, index=inclusion["index"], size=head.size, proof=proof,
            root=head.root):
        raise IntegrityError(f"the {event.event} event of envelope {event.envelope[:16]} is not in "
                             "its actor's log as its inclusion proof claims")
    return head


def inclusion_dict(head: TreeHead, index: int, proof: list[bytes]) -> dict[str, Any]:
    return {"head": head.head_id.hex(), "index": index, "proof": [p.hex() for p in proof]}


class OwnLog:
    """This archive's log: leaves in the index, heads signed on demand and kept."""

    def __init__(self, index: Index, keys: SecretKeys, sealer: MetaSealer,
                 now: Callable[[], str]) -> None:
        self._index, self._keys, self._sealer, self._now = index, keys, sealer, now
        self._log_id = sealer.peer_id(keys.card.fingerprint)

    def head(self) -> TreeHead:
        """A signed head over every leaf so far (the same one again if nothing was added)."""
        leaves = self._index.log_leaves()
        for size, head_id, sealed in reversed(self._index.heads_of(self._log_id)):
            if size == len(leaves):
                return check_head(self._sealer.open(head_id.hex(), sealed)["head"])
            break
        head = sign_head(self._keys, size=len(leaves), root=merkle.root(leaves), time=self._now())
        self._index.put_head(head.head_id, log=self._log_id, size=head.size, via=self._log_id,
                             sealed=seal_head(self._sealer, head, {}))
        return head

    def heads(self) -> list[TreeHead]:
        return [check_head(self._sealer.open(head_id.hex(), sealed)["head"])
                for _, head_id, sealed in self._index.heads_of(self._log_id)]

    def earliest_inclusion(self, event_id: bytes) -> dict[str, Any] | None:
        """The proof under the oldest head that covers the event: the best evidence of
        how early this archive held it."""
        at = self._index.log_index_of(event_id)
        if at is None:
            return None
        for head in self.heads():
            if head.size > at:
                return self.inclusion(event_id, head)
        return None

    def inclusion(self, event_id: bytes, head: TreeHead) -> dict[str, Any] | None:
        at = self._index.log_index_of(event_id)
        if at is None or at >= head.size:
            return None
        leaves = self._index.log_leaves()[:head.size]
        return inclusion_dict(head, at, merkle.inclusion_proof(leaves, at))

    def consistency(self, old_sizes: list[int], head: TreeHead) -> dict[str, list[str]]:
        leaves = self._index.log_leaves()[:head.size]
        return {str(m): [p.hex() for p in merkle.consistency_proof(leaves, m)]
                for m in sorted(set(old_sizes)) if 0 < m < head.size}


def seal_head(sealer: MetaSealer, head: TreeHead, consistency: dict[str, Any]) -> bytes:
    """A head as the index keeps it, with the consistency proofs that came with it."""
    return sealer.seal(head.head_id.hex(), {"head": head.signed, "consistency": consistency})


def open_head(sealer: MetaSealer, head_id: bytes, sealed: bytes) -> tuple[TreeHead, dict[str, Any]]:
    value = sealer.open(head_id.hex(), sealed)
    return check_head(value["head"]), value["consistency"]


def _proof(proofs: Any, size: int) -> list[bytes] | None:
    raw = proofs.get(str(size)) if isinstance(proofs, dict) else None
    if not isinstance(raw, list):
        return None
    return [from_hex(p, length=32, what="proof hash") for p in raw]


def check_consistency(new: TreeHead, known: list[tuple[TreeHead, dict[str, Any]]], proofs: Any) -> None:
    """`new` and every head this log's owner showed us before must lie on one history.

    Bundles arrive out of order, so an older head may come after a newer one: then the
    proof is the one the newer head brought (each head carries proofs from every size
    its sender had shown us before).
    """
    if not isinstance(proofs, dict):
        raise FormatError("consistency proofs are malformed")
    for old, old_proofs in known:
        small, large, proof = ((old, new, _proof(proofs, old.size)) if old.size <= new.size
                               else (new, old, _proof(old_proofs, new.size)))
        if small.size == large.size:
            if not crypto.constant_time_equal(small.root, large.root):
                raise RollbackError(f"the custody log of key {new.log[:16]} forked at size {new.size}; "
                                    "the bundle was refused and both heads kept")
            continue
        if small.size == 0:
            continue
        if proof is None or not merkle.verify_consistency(old_size=small.size, new_size=large.size,
                                                          old_root=small.root, new_root=large.root,
                                                          proof=proof):
            what = "shrank or forked" if old.size > new.size else "forked"
            raise RollbackError(f"the custody log of key {new.log[:16]} {what}: its heads of "
                                f"{small.size} and {large.size} events are not one history; "
                                "the bundle was refused and both heads kept")


class ProofTree:
    """All levels of one tree, so that many inclusion proofs cost O(log n) each.

    RFC 9162's tree is left-balanced: at every level a last node without a sibling is
    carried up unchanged, and its inclusion path skips that level. The root and paths
    equal merkle.root and merkle.inclusion_proof (tests/unit/test_custodylog.py).
    """

    def __init__(self, leaves: list[bytes]) -> None:
        self.size = len(leaves)
        self._levels = [list(leaves)]
        while len(self._levels[-1]) > 1:
            below = self._levels[-1]
            above = [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            self._levels.append(above)

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self.size else merkle.EMPTY_ROOT

    def path(self, index: int) -> list[bytes]:
        if not 0 <= index < self.size:
            raise ValueError("leaf index out of range")
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index >>= 1
        return proof
