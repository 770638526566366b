"""The per-record work of an import, spread over worker processes.

Each envelope is opened and verified, its index row sealed and our `imported` event
signed; each custody event's signature and inclusion proof are checked and its row
sealed. That is many short crypto calls between short stretches of Python: two threads
contending for the GIL measured slower than one (benchmarks/README.md), two processes
1.6-1.7x faster (see workerpool.py for how they start and what they receive). A small
import stays in this process on one thread, where starting workers would cost more than
it saves.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .custody import CustodyEvent, check_event, sign_event
from .custodylog import TreeHead, check_inclusion
from .errors import FormatError, TrustError
from .sealedrows import MetaSealer, RecordRow
from .keys import SecretKeys
from .records import OpenedRecord, index_meta, open_envelope
from .workerpool import WorkerPool

CustodyRow = tuple[bytes, bytes, bytes, "bytes | None"]

# Below this many envelopes and custody events together, one thread in this process.
PROCESS_THRESHOLD = 1024
WORKER_PROCESSES = 2


def sealed_meta(sealer: MetaSealer, opened: OpenedRecord) -> bytes:
    """The index row's sealed metadata of an opened record (what list/show/search read)."""
    meta = index_meta(opened.statement, opened.fields, opened.attachments, slot=opened.slot)
    return sealer.seal(opened.record_id, meta)


def refused_as_revoked(opened: OpenedRecord, revoked: dict[str, str]) -> bool:
    """A revoked key's statements made after its revocation are refused."""
    date = revoked.get(opened.author_fingerprint)
    return date is not None and opened.statement["created"] >= date


def custody_row(sealer: MetaSealer, own_fingerprint: str, event: CustodyEvent) -> CustodyRow:
    """The sealed custody row of an event; ours carry their leaf hash for our log."""
    return sealer.custody_row(event.event_id, event.envelope, event.raw,
                              leaf=event.leaf_hash if event.actor == own_fingerprint else None)


@dataclass
class Opened:
    """One envelope's verdict: its index row (None when it is not for us, kept to relay
    on), dedup rows and our sealed `imported` custody row (None when refused)."""
    oid: bytes
    row: RecordRow | None = None
    dedup: list[tuple[bytes, str]] = field(default_factory=list)
    custody_row: CustodyRow | None = None
    refused: bool = False


@dataclass
class Receipt:
    """Everything a worker needs to receive one bundle. Picklable: sent once to each
    worker process."""
    JOBS = ("open_envelopes", "check_custody")

    keys: SecretKeys
    sender_fp: str
    bundle_id: str
    now: str
    revoked: dict[str, str]            # fingerprint → revocation date of revoked peers
    heads: dict[bytes, TreeHead]       # the manifest's checked tree heads, by id

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("sealer", None)      # derived again on the other side
        return state

    @cached_property
    def sealer(self) -> MetaSealer:
        return MetaSealer(self.keys.index_key)

    def imported_row(self, oid: bytes, record: str | None) -> CustodyRow:
        event = sign_event(self.keys, event="imported", envelope=oid, record=record,
                           peer=self.sender_fp, bundle=self.bundle_id, time=self.now)
        return custody_row(self.sealer, self.keys.card.fingerprint, event)

    def open_envelopes(self, batch: list[tuple[bytes, bytes]]) -> list[Opened]:
        """A damaged or forged envelope addressed to us raises, failing the whole import."""
        return [self._open_one(oid, data) for oid, data in batch]

    def _open_one(self, oid: bytes, data: bytes) -> Opened:
        result = Opened(oid)
        try:
            opened = open_envelope(data, self.keys.box_secret)
        except TrustError:   # not addressed to us
            result.custody_row = self.imported_row(oid, None)
            return result
        if refused_as_revoked(opened, self.revoked):
            result.refused = True
            return result
        result.row = RecordRow(opened.record_id, oid, sealed_meta(self.sealer, opened))
        result.dedup = [(self.sealer.dedup_mac(bytes.fromhex(a["sha256"])), opened.record_id)
                        for a in opened.attachments]
        result.custody_row = self.imported_row(oid, opened.record_id)
        return result

    def check_custody(self, items: list[dict[str, Any]]) -> tuple[list[CustodyRow], list[tuple[bytes, bytes]]]:
        """Every event's signature and inclusion proof (the sender must prove its own).
        Returns the events' sealed rows and the sealed proofs of other archives' events."""
        own = self.keys.card.fingerprint
        rows, proofs = [], []
        for item in items:
            event = check_event(item["event"])
            if item["inclusion"] is not None:
                check_inclusion(event, item["inclusion"], self.heads)
                if event.actor != own:
                    proofs.append((event.event_id,
                                   self.sealer.seal(event.event_id.hex(), item["inclusion"])))
            elif event.actor == self.sender_fp:
                raise FormatError("a custody event of the bundle's sender has no inclusion proof")
            rows.append(custody_row(self.sealer, own, event))
        return rows, proofs


class Workers:
    """Where a Receipt's jobs run: worker processes for a large import, else one thread.
    A context manager; leaving it stops the workers (and drops pending jobs)."""

    def __init__(self, receipt: Receipt, *, jobs: int) -> None:
        self.receipt = receipt
        self.in_processes = jobs >= PROCESS_THRESHOLD
        if self.in_processes:
            self._pool: WorkerPool | ThreadPoolExecutor = WorkerPool(receipt, size=WORKER_PROCESSES)
        else:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="testimony-import")

    def open_envelopes(self, batch: list[tuple[bytes, bytes]]) -> Future:
        return self._submit("open_envelopes", batch)

    def check_custody(self, items: list[dict[str, Any]]) -> Future:
        return self._submit("check_custody", items)

    def _submit(self, job: str, arg: Any) -> Future:
        if self.in_processes:
            return self._pool.submit(job, arg)
        return self._pool.submit(getattr(self.receipt, job), arg)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.in_processes:
            self._pool.close()
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)
