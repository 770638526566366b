"""Re-hashing stored evidence files for `verify`, in worker processes when there is much.

Each file's chunks are read at places the caller looked up in the index, checked against
their ids, decrypted with their keys from the opened envelope, and the file's size and
SHA-256 compared with the signed statement. Per byte that is two SHA-256 passes and one
AES-GCM pass; threads did not share that well (benchmarks/README.md), so a large verify
runs it in two worker processes (workerpool.py: no inherited descriptors, the chunk keys
only on the pipe). The caller keeps the index: workers never open it.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .chunks import decrypt_file_chunks
from .errors import FormatError, IntegrityError
from .store import Store
from .workerpool import WorkerPool

# Below this many bytes of evidence, verify re-hashes in its own process.
PROCESS_BYTES = 256 << 20
_JOB_BYTES = 32 << 20      # files per worker job: about this many bytes
_IN_FLIGHT = 4

FileJob = tuple[list[dict[str, Any]], dict[bytes, Any], int, str]   # refs, places, size, sha256


@dataclass
class Rehasher:
    """A worker's state: where the packs are."""
    JOBS = ("rehash",)

    home: str

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


class FileChecks:
    """Collects files to re-hash and hands each verdict to its callback, in order: here,
    or in two worker processes when `evidence_bytes` is large. A context manager."""

    def __init__(self, home: Path, *, evidence_bytes: int) -> None:
        self._rehasher = Rehasher(str(home))
        self._pool = WorkerPool(self._rehasher, size=2) if evidence_bytes >= PROCESS_BYTES else None
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
