"""Writing records into the store: objects into packs, index rows once their pack is durable.

`RecordWriter` hands objects to a pack-writing thread (packsink.py) and commits the
index rows that name them only once their pack is durable, so a crash or Ctrl-C loses
at most the uncommitted tail and never leaves a row pointing at nothing. `record` and
`add` write through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from . import constants as C
from .chunks import EncryptedChunk
from .index import Index
from .packsink import PackSink
from .records import SealedRecord
from .sealedrows import RecordRow
from .store import ENTRY_HEAD, ClosedPack, Store


@dataclass
class _Rows:
    """What the index learns once a pack is durable: its objects' kinds, and the
    records (with their dedup and custody rows) whose objects are all written by then."""
    kinds: dict[bytes, str] = field(default_factory=dict)
    records: list[RecordRow] = field(default_factory=list)
    dedup: list[tuple[bytes, str]] = field(default_factory=list)
    custody: list[tuple] = field(default_factory=list)


class RecordWriter:
    """Objects into packs on the pack thread; index rows once their pack is durable.
    Ends with `finish` (commit everything) or `abort` (keep only what is committed)."""

    def __init__(self, store: Store, index: Index) -> None:
        self._store, self._index = store, index
        self._sink: PackSink | None = None
        self._rows = _Rows()
        self._pack_bytes = 0               # written since the last cut
        self._sent: set[bytes] = set()     # every object sent or found stored this run
        self.new_objects = 0
        self.new_bytes = 0

    def has_sent(self, object_id: bytes) -> bool:
        """Sent or found stored this run (asked from the workers: one set lookup, atomic)."""
        return object_id in self._sent

    def stored(self, object_ids: Iterable[bytes]) -> set[bytes]:
        """Which of these objects need not be written: one index lookup for a batch."""
        ids = set(object_ids)
        unknown = ids - self._sent
        return (ids - unknown) | (self._index.has_objects(unknown) if unknown else set())

    def put_object(self, object_id: bytes, data: bytes, kind: str, *, stored: bool | None = None) -> None:
        """Append an object unless it is already stored; `stored` saves the index lookup
        when the caller already knows (a batch lookup, or a fresh envelope)."""
        if object_id in self._sent:
            return
        self._sent.add(object_id)
        if stored is None:
            stored = bool(self._index.has_objects([object_id]))
        if stored:
            return
        if self._sink is None:
            self._sink = PackSink(self._store)
        self._sink.put(object_id, data)
        self._rows.kinds[object_id] = kind
        self._pack_bytes += ENTRY_HEAD + len(data)
        self.new_objects += 1
        self.new_bytes += len(data)

    def put_chunks(self, chunks: list[EncryptedChunk], stored: set[bytes] | None = None) -> None:
        if stored is None:
            stored = self.stored(c.object_id for c in chunks)
        for chunk in chunks:
            self.put_object(chunk.object_id, chunk.obj, "chunk", stored=chunk.object_id in stored)
        self._maybe_cut()

    def put_record(self, record: SealedRecord, sealed_meta: bytes, dedup_macs: list[bytes],
                   custody: tuple) -> None:
        """The envelope, its index row, dedup entries and `recorded` custody event."""
        # An envelope is new by construction (fresh data key, nonce and stanzas).
        self.put_object(record.envelope_id, record.envelope, "envelope", stored=False)
        self._rows.records.append(RecordRow(record.record_id, record.envelope_id, sealed_meta))
        self._rows.dedup.extend((mac, record.record_id) for mac in dedup_macs)
        self._rows.custody.append(custody)
        self._maybe_cut()

    def _maybe_cut(self) -> None:
        if self._pack_bytes >= C.PACK_TARGET_BYTES:
            self._cut()
        if self._sink is not None:
            for closed, rows in self._sink.finished():
                self._commit(closed, rows)

    def _cut(self) -> None:
        """Close the pack so far; its rows wait for it, since packs close in order
        every object they name is then durable."""
        if self._sink is None:
            self._sink = PackSink(self._store)
        self._sink.cut(self._rows)
        self._rows, self._pack_bytes = _Rows(), 0

    def _commit(self, closed: ClosedPack | None, rows: _Rows) -> None:
        if closed is not None:
            self._index.commit_pack(closed, kinds=rows.kinds, records=rows.records,
                                    dedup=rows.dedup, custody=rows.custody)
        elif rows.records:  # every object was already stored: rows only
            self._index.add_records(rows.records, rows.dedup, rows.custody)

    def finish(self) -> None:
        """Write and commit everything, then stop the pack thread."""
        if self._rows.kinds or self._rows.records:
            self._cut()
        if self._sink is not None:
            try:
                for closed, rows in self._sink.finished(wait=True):
                    self._commit(closed, rows)
            finally:
                self._sink.close()

    def abort(self) -> None:
        """After an error: commit the packs already durable (whole records), drop the rest."""
        if self._sink is None:
            return
        self._sink.close()
        try:
            for closed, rows in self._sink.finished():
                self._commit(closed, rows)
        except Exception:
            pass  # the error being handled is the one to report; the rest is dropped
        self._rows, self._pack_bytes = _Rows(), 0
