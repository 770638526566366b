"""Signing and sealing new evidence records for `add`: here, or in worker processes.

Per record that is a statement, two Ed25519 signatures, an envelope of four sealed-box
stanzas and XChaCha20-Poly1305, a sealed index row and a signed `recorded` custody event:
≈ 0.9 ms of many short crypto calls between stretches of Python. For a folder of small
notes that is nearly all of `add`'s work, and on threads it contends for the GIL; so an
`add` of many small files seals them in two worker processes (workerpool.py: our own
`python -c`, no inherited descriptors, the keys only on the stdin pipe), as an import
opens envelopes (receiving.py).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .custody import sign_event
from .sealedrows import MetaSealer
from .keys import SecretKeys
from .records import Draft, SealedRecord, create_record, index_meta

Sealed = tuple[SealedRecord, bytes, tuple]   # the record, its sealed index row, its custody row
Item = tuple[str, int, bytes, list[dict[str, Any]], str]   # name, size, sha256, chunk refs, created


def media_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def recorded_event(keys: SecretKeys, sealer: MetaSealer, record: SealedRecord) -> tuple:
    """The `recorded` custody event of a new record, sealed for the index."""
    event = sign_event(keys, event="recorded", envelope=record.envelope_id, record=record.record_id,
                       peer=None, bundle=None, time=record.statement["created"])
    return sealer.custody_row(event.event_id, event.envelope, event.raw, leaf=event.leaf_hash)


@dataclass
class RecordSealer:
    """What sealing needs: the keys, the tags and the recipients. Picklable: sent once
    to each worker process (the index sealer is derived again there)."""
    JOBS = ("seal",)

    keys: SecretKeys
    tags: list[str]
    recipients: list[bytes]

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys, "tags": self.tags, "recipients": self.recipients}

    @cached_property
    def sealer(self) -> MetaSealer:
        return MetaSealer(self.keys.index_key)

    def seal(self, items: list[Item]) -> list[Sealed]:
        """An evidence record for each (name, size, sha256, chunk refs, created)."""
        out = []
        for name, size, sha, refs, created in items:
            attachment = {"name": name, "media_type": media_type(name), "size": size, "sha256": sha.hex()}
            fields: dict[str, Any] = {"title": name}
            if self.tags:
                fields["tags"] = self.tags
            record = create_record(self.keys, Draft("evidence", fields, (attachment,)),
                                   chunks={sha.hex(): refs}, recipients=self.recipients, created=created)
            meta = index_meta(record.statement, fields, [attachment], slot=record.slot)
            out.append((record, self.sealer.seal(record.record_id, meta),
                        recorded_event(self.keys, self.sealer, record)))
        return out
