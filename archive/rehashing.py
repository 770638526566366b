"""Re-hashing stored evidence files for `verify`, in worker processes when there is much.

Each file's chunks are read at places the caller looked up in the index, checked against
their ids, decrypted with their keys from the opened envelope, and the file's size and
SHA-256 compared with the signed statement. Per byte that is two SHA-256 passes and one
AES-GCM pass; threads did not share that well (benchmarks/README.md), so a large verify
runs it in two worker processes (workerpool.py: no inherited descriptors, the chunk keys
only on the pipe). Those workers also open the envelopes (the box secret, like every
worker's keys, only on their stdin pipe): per record that was most of the calling
thread's work, and the calling thread was the longest path. The caller keeps the index:
workers never open it.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .chunks import decrypt_file_chunks
from .errors import FormatError, IntegrityError, SignatureError, TrustError
from .sealedrows import RecordRow
from .records import OpenedRecord, open_envelope
from .store import Store
from .workerpool import WorkerPool

# Below this many bytes of evidence and this many records, verify stays in its own process.
PROCESS_BYTES = 256 << 20
PROCESS_RECORDS = 1024
_JOB_BYTES = 32 << 20      # files per worker job: about this many bytes
_IN_FLIGHT = 4
_OPEN_BATCH = 32           # envelopes per worker job

FileJob = tuple[list[dict[str, Any]], dict[bytes, Any], int, str]   # refs, places, size, sha256
Envelope = tuple[RecordRow, "bytes | str", "int | None"]   # row, its envelope or why not, slot hint


@dataclass
class Rehasher:
    """A worker's state: where the packs are, and the box secret that opens envelopes
    (sent once on the worker's stdin pipe, as every worker's keys are)."""
    JOBS = ("rehash", "open_envelopes")

    home: str
    box_secret: bytes | None = None

    def open_envelopes(self, items: list[tuple[str, bytes, int | None]]) -> list[OpenedRecord | str]:
        """For each (record id, envelope bytes, slot hint): the opened record — signature,
        SSH signature and every disclosure checked — or why it does not open."""
        return [_open_as(record_id, envelope, self.box_secret, slot) for record_id, envelope, slot in items]

    def rehash(self, files: list[FileJob]) -> list[str | None]:
        """For each file, None if it matches its signed size and SHA-256, else why not."""
        verdicts: list[str | None] = []
        with Store(Path(self.home)).reading() as read_at:
            for refs, places, size, sha256_hex in files:
                def read(object_id: bytes) -> bytes:
                    if places.get(object_id) is None:
                        raise IntegrityError(f"object {object_id.hex()[:16]} is missing from the index")
                    return read_at(*places[object_id])
                try:
                    for _ in decrypt_file_chunks(refs, read, size=size, sha256_hex=sha256_hex):
                        pass
                    verdicts.append(None)
                except (IntegrityError, FormatError) as e:
                    verdicts.append(str(e))
        return verdicts


def _open_as(record_id: str, envelope: bytes, box_secret: bytes, slot: int | None) -> OpenedRecord | str:
    try:
        opened = open_envelope(envelope, box_secret, slot=slot)
    except (IntegrityError, FormatError, SignatureError, TrustError) as e:
        return str(e)
    if opened.record_id != record_id:
        return f"the envelope indexed as record {record_id[:16]} holds record {opened.record_id[:16]}"
    return opened


class FileChecks:
    """Collects files to re-hash and hands each verdict to its callback, in order: here,
    or in two worker processes when there is much evidence or many records; opens
    envelopes the same way (`opened`). A context manager."""

    def __init__(self, home: Path, *, evidence_bytes: int, records: int, box_secret: bytes) -> None:
        self._rehasher = Rehasher(str(home), box_secret)
        many = evidence_bytes >= PROCESS_BYTES or records >= PROCESS_RECORDS
        self._pool = WorkerPool(self._rehasher, size=2) if many else None
        self._batch: list[tuple[FileJob, Callable[[str | None], None]]] = []
        self._bytes = 0
        self._pending: deque[tuple[list[Callable[[str | None], None]], Future]] = deque()

    def add(self, job: FileJob, done: Callable[[str | None], None]) -> None:
        if self._pool is None:
            done(self._rehasher.rehash([job])[0])
            return
        self._batch.append((job, done))
        self._bytes += job[2]
        if self._bytes >= _JOB_BYTES:
            self._send()

    def _send(self) -> None:
        if self._batch:
            jobs, callbacks = [j for j, _ in self._batch], [d for _, d in self._batch]
            self._pending.append((callbacks, self._pool.submit("rehash", jobs)))
            self._batch, self._bytes = [], 0
        while self._pending and (len(self._pending) > _IN_FLIGHT or self._pending[0][1].done()):
            self._settle()

    def _settle(self) -> None:
        callbacks, future = self._pending.popleft()
        for done, verdict in zip(callbacks, future.result()):
            done(verdict)

    def opened(self, envelopes: Iterable[Envelope]) -> Iterator[tuple[RecordRow, OpenedRecord | str]]:
        """(row, opened record or why not) for each (index row, envelope bytes or why they
        could not be read, slot hint), in order. In the workers, 32 to a job, a few jobs
        ahead: opening is most of what `verify` does per record besides the files."""
        if self._pool is None:
            for row, envelope, slot in envelopes:
                yield row, (envelope if isinstance(envelope, str)
                            else _open_as(row.record_id, envelope, self._rehasher.box_secret, slot))
            return
        pending: deque[tuple[list[Envelope], Future]] = deque()

        def settle() -> Iterator[tuple[RecordRow, OpenedRecord | str]]:
            batch, future = pending.popleft()
            results = iter(future.result())
            for row, envelope, _ in batch:
                yield row, envelope if isinstance(envelope, str) else next(results)

        batch: list[Envelope] = []
        for item in envelopes:
            batch.append(item)
            if len(batch) == _OPEN_BATCH:
                pending.append((batch, self._submit_opening(batch)))
                batch = []
                while len(pending) > _IN_FLIGHT:
                    yield from settle()
        if batch:
            pending.append((batch, self._submit_opening(batch)))
        while pending:
            yield from settle()

    def _submit_opening(self, batch: list[Envelope]) -> Future:
        return self._pool.submit("open_envelopes",
                                 [(row.record_id, e, slot) for row, e, slot in batch if not isinstance(e, str)])

    def finish(self) -> None:
        """Wait for every verdict."""
        if self._pool is not None:
            self._send()
            while self._pending:
                self._settle()

    def __enter__(self) -> FileChecks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
