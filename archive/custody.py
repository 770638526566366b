"""Signed custody events: who recorded, exported and imported each envelope, when.

An event is canonical JSON signed by its actor (PURPOSE `custody`) and carries the
actor's public keys, so anyone can check its signature; whether the actor is trusted
is the reader's question (a pinned peer, this archive, or an unknown key). Events
travel in bundles with the envelopes they name, so a record's chain of custody can be
shown hop by hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import constants as C
from . import crypto, merkle
from .encoding import canonical, from_hex, parse_canonical, parse_time
from .errors import FormatError
from .keys import SecretKeys
from .signed import public_keys, read_public_keys, sign_document_encoded, verify_document

_FIELDS = {"type", "version", "event", "envelope", "record", "actor", "peer", "bundle", "time",
           "signature"}


@dataclass(frozen=True)
class CustodyEvent:
    """A custody event whose signature held."""

    event: str
    envelope: str
    record: str | None
    actor: str              # fingerprint
    peer: str | None        # fingerprint
    bundle: str | None
    time: str
    signed: dict[str, Any]

    # Encoded once: imports and exports ask for these of thousands of events.
    @cached_property
    def raw(self) -> bytes:
        return canonical(self.signed)

    @cached_property
    def event_id(self) -> bytes:
        return crypto.labelled_hash(C.CUSTODY, self.raw)

    @cached_property
    def leaf_hash(self) -> bytes:
        """This event as a leaf of its actor's Merkle log (RFC 9162)."""
        return merkle.leaf_hash(self.raw)


def sign_event(keys: SecretKeys, *, event: str, envelope: bytes, record: str | None,
               peer: str | None, bundle: str | None, time: str) -> CustodyEvent:
    if event not in C.CUSTODY_EVENTS:
        raise ValueError(f"unknown custody event {event!r}")
    body = {"type": C.CUSTODY_TYPE, "version": C.FORMAT_VERSION, "event": event,
            "envelope": envelope.hex(), "record": record, "actor": public_keys(keys),
            "peer": peer, "bundle": bundle, "time": time}
    # Our own fresh signature: no need to verify it again (every reader does).
    signed, raw = sign_document_encoded(keys.sign_seed, body, purpose=C.CUSTODY)
    return _event(CustodyEvent(event, envelope.hex(), record, keys.card.fingerprint, peer, bundle,
                               time, signed), raw)


def check_event(value: Any, *, signature_checked: bool = False,
                raw: bytes | None = None) -> CustodyEvent:
    """Shape and signature of one event; FormatError or SignatureError otherwise.

    `signature_checked` is only for events read back from this archive's own sealed
    index, where each was verified (or signed by us) before it was stored. `raw`, when
    the caller has it, is canonical(value)."""
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise FormatError("a custody event has missing or unknown fields")
    if value["type"] != C.CUSTODY_TYPE or type(value["version"]) is not int \
            or value["version"] != C.FORMAT_VERSION or value["event"] not in C.CUSTODY_EVENTS:
        raise FormatError("a custody event has an unknown type, version or event")
    from_hex(value["envelope"], length=32, what="custody envelope")
    for name, length in (("record", 32), ("peer", 32), ("bundle", 32)):
        if value[name] is not None:
            from_hex(value[name], length=length, what=f"custody {name}")
    sign_key, _, actor = read_public_keys(value["actor"], what="a custody event's actor")
    parse_time(value["time"], what="custody time")
    if raw is None:
        raw = canonical(value)
    if not signature_checked:
        verify_document(value, sign_key, purpose=C.CUSTODY, encoded=raw,
                        what=f"a custody event ({value['event']} of envelope {value['envelope'][:16]})")
    return _event(CustodyEvent(value["event"], value["envelope"], value["record"], actor,
                               value["peer"], value["bundle"], value["time"], value), raw)


def _event(event: CustodyEvent, raw: bytes) -> CustodyEvent:
    event.__dict__["raw"] = raw   # what the cached property would compute: encoded once
    return event


def parse_event(raw: bytes) -> CustodyEvent:
    return check_event(parse_canonical(raw, what="custody event"), raw=raw)


def chain_order(events: list[CustodyEvent]) -> list[CustodyEvent]:
    """Causal order: recorded, then each export before the import of the same bundle.

    Times are each actor's own claim (and have one-second resolution), so the order is
    taken from the hops themselves: an import follows the export of its bundle, and an
    actor exports only after it first held the envelope. Time breaks the remaining ties.
    """
    depth: dict[str, float] = {e.actor: 0.0 for e in events if e.event == "recorded"}
    rank: dict[int, float] = {}
    for _ in range(len(events) + 1):  # relax to a fixed point; the chain is short
        changed = False
        for i, e in enumerate(events):
            if e.event == "imported":
                sources = [rank[j] for j, x in enumerate(events)
                           if j in rank and x.event == "exported" and x.bundle == e.bundle]
                value = min(sources) + 0.5 if sources else None
            else:
                value = depth.get(e.actor, None)
                value = None if value is None else value + (0.5 if e.event == "exported" else 0.0)
            if value is not None and rank.get(i) != value:
                rank[i] = value
                if e.event == "imported" and value < depth.get(e.actor, float("inf")):
                    depth[e.actor] = value
                changed = True
        if not changed:
            break
    order = {"recorded": 0, "exported": 1, "imported": 2, "disclosed": 3}
    unranked = float(len(events) + 1)
    indexed = sorted(range(len(events)), key=lambda i: (
        rank.get(i, unranked), events[i].time, order[events[i].event], events[i].actor))
    return [events[i] for i in indexed]
