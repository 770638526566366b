"""`add`: bulk ingest of evidence files, and the attachments of a single record.

`add` is a streaming pipeline: a producer thread walks the files, two workers hash,
encrypt and seal, the calling thread looks objects up and commits the index (through
recordwriter.py), and the pack thread writes and fsyncs. A large file whose first chunk
is not stored cannot be stored either, so it is hashed and encrypted in one pass; one
whose first chunk is stored is hashed first, so a duplicate costs one read and no
encryption. Queues are bounded, so memory stays flat whatever the file sizes.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import constants as C
from . import crypto
from .chunks import EncryptedChunk, chunk_count, encrypt_chunk, padded_in_place, read_padded_chunk
from .errors import IntegrityError, UsageError
from .filelist import FileTask, display_name
from .index import Index
from .sealedrows import MetaSealer
from .keys import SecretKeys
from .records import SealedRecord
from .recordwriter import RecordWriter
from .sealing import RecordSealer, Sealed, media_type
from .workerpool import WorkerPool

SMALL_FILE = 4 * C.CHUNK_SIZE     # read whole and done in one job
CHUNK_GROUP = 4                   # chunks of a large file per job
STREAM_GROUP = 2                  # the same when streamed: its plaintext waits in the queue too
QUEUE_DEPTH = 4                   # jobs in flight: bounds memory to ~QUEUE_DEPTH × 8 MiB
WORKERS = 2
HASH_AHEAD = 3                    # large files probed (and hashed if maybe stored) ahead
BATCH_FILES = 16                  # small files per job (or SMALL_FILE bytes, if fewer)
SEAL_PROCESS_FILES = 1024         # from this many small files, records are sealed in processes


# --- Attachments of a single record ----------------------------------------------------------

def encrypt_attachment(path: Path, keyer: crypto.ChunkKeyer, writer: RecordWriter,
                       *, name: str) -> tuple[dict[str, Any], list[dict[str, Any]], bytes]:
    """Stream one file into the writer; return (attachment value, chunk refs, sha256)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise UsageError(f"{display_name(str(path))}: {e.strerror}") from e
    try:
        before = os.fstat(fd)
        size = before.st_size
        refs, digest = [], hashlib.sha256()
        for i in range(chunk_count(size)):
            plain = read_padded_chunk(fd, size, i)
            digest.update(plain[:max(0, min(len(plain), size - i * C.CHUNK_SIZE))])
            chunk = encrypt_chunk(keyer, plain)
            writer.put_chunks([chunk])
            refs.append(chunk.ref())
        _check_unchanged(fd, before, path)
    finally:
        os.close(fd)
    sha = digest.digest()
    value = {"name": display_name(name), "media_type": media_type(name), "size": size,
             "sha256": sha.hex()}
    return value, refs, sha


def _check_unchanged(fd: int, before: os.stat_result, path: Path) -> None:
    after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise IntegrityError(f"{display_name(str(path))} changed while it was being read",
                             hint="add it again once nothing is writing to it")


# --- add -------------------------------------------------------------------------------------

@dataclass
class AddSummary:
    files: int = 0
    bytes: int = 0
    new: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    new_records: list[tuple[str, str]] = field(default_factory=list)      # (name, record id)
    duplicate_files: list[tuple[str, str]] = field(default_factory=list)  # (name, record id)
    stored_bytes: int = 0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Done:
    """A file processed by a worker: either a duplicate or a sealed evidence record."""

    task: FileTask
    mac: bytes
    chunks: list[EncryptedChunk] = field(default_factory=list)
    record: SealedRecord | None = None
    sealed_meta: bytes = b""
    custody: tuple | None = None
    sha: bytes = b""                  # a new small file's, until its record is sealed

    def sealed(self, sealed: Sealed) -> None:
        self.record, self.sealed_meta, self.custody = sealed


class Ingest:
    def __init__(self, keys: SecretKeys, sealer: MetaSealer, writer: RecordWriter, index: Index,
                 *, tags: list[str], now: Callable[[], str], recipients: list[bytes] = (),
                 progress: Callable[[int], None] | None = None) -> None:
        self._keys, self._sealer, self._writer, self._index = keys, sealer, writer, index
        self._keyer = crypto.ChunkKeyer(keys.convergence_secret)
        self._tags, self._now, self._recipients = sorted(set(tags)), now, list(recipients)
        self._progress = progress or (lambda n: None)
        self._known = index.dedup_macs()
        self._record_sealer = RecordSealer(keys, self._tags, self._recipients)
        self._seal_pool: WorkerPool | None = None
        self._claimed: set[bytes] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _claim(self, mac: bytes) -> bool:
        """True for the first file with these bytes; later ones are duplicates."""
        with self._lock:
            if mac in self._known or mac in self._claimed:
                return False
            self._claimed.add(mac)
            return True

    def _seal(self, task: FileTask, sha: bytes, refs: list[dict[str, Any]]) -> Sealed:
        return self._record_sealer.seal([(task.name, task.size, sha, refs, self._now())])[0]

    def _small_job(self, task: FileTask) -> _Done:
        try:
            fd = os.open(task.path, os.O_RDONLY)
        except OSError as e:  # removed or made unreadable since it was listed
            raise UsageError(f"{task.name}: {e.strerror}") from e
        try:
            before = os.fstat(fd)
            buffer = _thread_buffer()
            # One byte more than listed: a file that grew since is seen, not cut short.
            data = _read_into(fd, buffer[:task.size + 1])
            _check_unchanged(fd, before, task.path)
        except OSError as e:  # made a folder since it was listed, or the disk failed
            raise UsageError(f"{task.name}: {e.strerror}") from e
        finally:
            os.close(fd)
        if len(data) != task.size:
            raise IntegrityError(f"{task.name} changed while it was being read")
        sha = hashlib.sha256(data).digest()
        mac = self._sealer.dedup_mac(sha)
        done = _Done(task, mac)
        if mac in self._known:  # stored before this run (repeats within it: see run())
            return done
        # Padded where it lies (padme(size) <= SMALL_FILE for a small file): no copies.
        done.chunks = [encrypt_chunk(self._keyer, c) for c in padded_in_place(buffer, task.size)]
        done.sha = sha
        return done

    def _small_batch(self, tasks: list[FileTask]) -> tuple[list[_Done], Future | None]:
        """Several small files in one job (far fewer hand-offs between threads): hashed and
        encrypted here; their records sealed here too, or handed to the sealing processes
        (the future the writing thread waits for), so this thread goes on encrypting."""
        dones = [self._small_job(task) for task in tasks]
        new = [d for d in dones if d.sha]
        items = [(d.task.name, d.task.size, d.sha, [c.ref() for c in d.chunks], self._now()) for d in new]
        if items and self._seal_pool is not None:
            return dones, self._seal_pool.submit("seal", items)
        for done, sealed in zip(new, self._record_sealer.seal(items) if items else []):
            done.sealed(sealed)
        return dones, None

    def _group_job(self, fd: int, size: int, first: int, last: int) -> list[EncryptedChunk]:
        return [encrypt_chunk(self._keyer, read_padded_chunk(fd, size, i)) for i in range(first, last)]

    def _produce(self, tasks: list[FileTask], pool: ThreadPoolExecutor, out: queue.Queue) -> None:
        hashing: dict[int, Future] = {}  # large files ahead, hashed on the workers meanwhile
        batch: list[FileTask] = []       # small files go to the workers a few at a time

        def send_batch() -> None:
            if batch:
                out.put(("small", list(batch), pool.submit(self._small_batch, list(batch))))
                batch.clear()

        try:
            for i, task in enumerate(tasks):
                if self._stop.is_set():
                    break
                for j in range(i, min(i + HASH_AHEAD, len(tasks))):
                    if tasks[j].size > SMALL_FILE and j not in hashing:
                        hashing[j] = pool.submit(self._open_and_probe, tasks[j])
                if task.size <= SMALL_FILE:
                    batch.append(task)
                    if len(batch) >= BATCH_FILES or sum(t.size for t in batch) >= SMALL_FILE:
                        send_batch()
                else:
                    send_batch()
                    probed = hashing.pop(i).result()
                    if isinstance(probed, _Fresh):
                        self._produce_streaming(task, probed, pool, out)
                    else:
                        self._produce_large(task, *probed, pool, out)
            send_batch()
            out.put(("end",))
        except BaseException as e:  # handed to the writing thread, which re-raises
            out.put(("error", e))
        finally:
            for future in hashing.values():  # opened ahead but never used
                if not future.cancel() and future.exception() is None:
                    probed = future.result()
                    os.close(probed.fd if isinstance(probed, _Fresh) else probed[0])

    def _produce_large(self, task: FileTask, fd: int, before: os.stat_result, sha: bytes,
                       pool: ThreadPoolExecutor, out: queue.Queue) -> None:
        mac = self._sealer.dedup_mac(sha)
        if not self._claim(mac):
            os.close(fd)
            out.put(("dup", task, mac))
            return
        total = chunk_count(task.size)
        for first in range(0, total, CHUNK_GROUP):
            if self._stop.is_set():
                break
            out.put(("group", task, pool.submit(self._group_job, fd, task.size, first,
                                                min(first + CHUNK_GROUP, total))))
        out.put(("large", task, mac, sha, fd, before))

    def _open_and_probe(self, task: FileTask) -> _Fresh | tuple[int, os.stat_result, bytes]:
        """Open a large file and encrypt its first chunk. If that chunk is not stored, the
        file cannot be (its first chunk would be): it will be hashed and encrypted in one
        pass (_Fresh). Otherwise hash it first, so a duplicate costs one read and no
        encryption: (descriptor, stat, SHA-256)."""
        fd, before = _open_checked(task)
        try:
            first = read_padded_chunk(fd, task.size, 0)
            chunk = encrypt_chunk(self._keyer, first)
            if not (self._writer.has_sent(chunk.object_id) or self._probe.has(chunk.object_id)):
                return _Fresh(fd, before, first, chunk)
            return fd, before, _hash_fd(fd)
        except BaseException:
            os.close(fd)
            raise

    def _produce_streaming(self, task: FileTask, fresh: _Fresh, pool: ThreadPoolExecutor,
                           out: queue.Queue) -> None:
        """One pass over a new large file: each group of chunks is read once, fed to the
        file's SHA-256 here, in order, and encrypted by the workers — the bytes hashed are
        the bytes encrypted. Whether it is a duplicate after all (equal to a file earlier in
        this run) is known only at the end; its chunks are then the same objects, written
        once."""
        digest = hashlib.sha256(_file_part(fresh.first, task.size, 0))
        total = chunk_count(task.size)
        try:
            for start in range(0, total, STREAM_GROUP):
                if self._stop.is_set():   # the run is ending: no record from half a file
                    os.close(fresh.fd)
                    return
                done = [fresh.chunk] if start == 0 else []
                plains = [read_padded_chunk(fresh.fd, task.size, i)
                          for i in range(start + len(done), min(start + STREAM_GROUP, total))]
                for offset, plain in enumerate(plains, start + len(done)):
                    digest.update(_file_part(plain, task.size, offset))
                out.put(("group", task, pool.submit(self._encrypt_plains, done, plains)))
        except BaseException:   # a file cut short while it was read: ours to close
            os.close(fresh.fd)
            raise
        sha = digest.digest()
        mac = self._sealer.dedup_mac(sha)
        if self._claim(mac):
            out.put(("large", task, mac, sha, fresh.fd, fresh.before))
        else:
            out.put(("streamed-dup", task, mac, fresh.fd))

    def _encrypt_plains(self, done: list[EncryptedChunk], plains: list) -> list[EncryptedChunk]:
        return done + [encrypt_chunk(self._keyer, p) for p in plains]

    def run(self, tasks: list[FileTask]) -> AddSummary:
        summary = AddSummary(files=len(tasks), bytes=sum(t.size for t in tasks))
        started = time.perf_counter()
        out: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        refs: list[dict[str, Any]] = []
        self._probe = self._index.object_probe()
        if sum(1 for t in tasks if t.size <= SMALL_FILE) >= SEAL_PROCESS_FILES:
            self._seal_pool = WorkerPool(self._record_sealer, size=WORKERS)
        with contextlib.closing(self._probe), self._seal_pool or contextlib.nullcontext(), \
                ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="testimony-add") as pool:
            producer = threading.Thread(target=self._produce, args=(tasks, pool, out), daemon=True)
            producer.start()
            producer_done = False  # after "end" or "error" nothing more comes: do not wait for it
            try:
                while True:
                    item = out.get()
                    producer_done = item[0] in ("end", "error")
                    if item[0] == "end":
                        break
                    if item[0] == "error":
                        raise item[1]
                    if item[0] == "small":
                        dones, sealing = item[2].result()
                        if sealing is not None:
                            for done, sealed in zip((d for d in dones if d.sha), sealing.result()):
                                done.sealed(sealed)
                        stored = self._writer.stored(c.object_id for d in dones for c in d.chunks)
                        for done in dones:
                            # Claimed here, in walk order, not by whichever worker finished first:
                            # of two equal files the first one walked is recorded, the other a
                            # duplicate.
                            if done.record is not None and not self._claim(done.mac):
                                done = _Done(done.task, done.mac)
                            self._write_done(done, summary, stored)
                            self._progress(done.task.size)
                    elif item[0] == "group":
                        chunks = item[2].result()
                        self._writer.put_chunks(chunks)
                        start = len(refs) * C.CHUNK_SIZE  # progress counts file bytes, not padding
                        refs.extend(c.ref() for c in chunks)
                        size = item[1].size
                        self._progress(min(size, len(refs) * C.CHUNK_SIZE) - min(size, start))
                    elif item[0] == "dup":
                        self._write_done(_Done(item[1], item[2]), summary)
                        self._progress(item[1].size)
                    elif item[0] == "streamed-dup":   # its chunks were progress already
                        os.close(item[3])
                        refs = []
                        self._write_done(_Done(item[1], item[2]), summary)
                    elif item[0] == "large":
                        _, task, mac, sha, fd, before = item
                        try:
                            _check_unchanged(fd, before, task.path)
                        finally:
                            os.close(fd)
                        record, sealed, custody = self._seal(task, sha, refs)
                        refs = []
                        self._write_done(_Done(task, mac, [], record, sealed, custody), summary)
                self._writer.finish()
            except BaseException:
                self._stop.set()
                self._writer.abort()
                if not producer_done:
                    _drain(out)
                raise
        summary.seconds = time.perf_counter() - started
        summary.stored_bytes = self._writer.new_bytes
        for i, (name, mac) in enumerate(summary.duplicate_files):
            summary.duplicate_files[i] = (name, self._index.dedup_record(mac) or "")
        return summary

    def _write_done(self, done: _Done, summary: AddSummary, stored: set[bytes] | None = None) -> None:
        if done.record is None:
            summary.duplicates += 1
            summary.duplicate_files.append((done.task.name, done.mac))  # id resolved at the end
        else:
            self._writer.put_chunks(done.chunks, stored)
            self._writer.put_record(done.record, done.sealed_meta, [done.mac], done.custody)
            summary.new += 1
            summary.new_records.append((done.task.name, done.record.record_id))


def _open_checked(task: FileTask) -> tuple[int, os.stat_result]:
    """Open a large file listed earlier; the descriptor stays open for its chunks."""
    try:
        fd = os.open(task.path, os.O_RDONLY)
    except OSError as e:  # removed or made unreadable since it was listed
        raise UsageError(f"{task.name}: {e.strerror}") from e
    before = os.fstat(fd)
    if before.st_size != task.size:  # chunks are cut to task.size: hash the same bytes
        os.close(fd)
        raise IntegrityError(f"{task.name} changed while it was being read",
                             hint="add it again once nothing is writing to it")
    return fd, before


@dataclass
class _Fresh:
    """A large file whose first chunk is not stored: to be streamed in one pass."""
    fd: int
    before: os.stat_result
    first: bytes | bytearray          # chunk 0's padded plaintext
    chunk: EncryptedChunk             # chunk 0, encrypted


def _file_part(plain: bytes | bytearray, size: int, index: int) -> memoryview:
    """The file's own bytes in padded chunk `index` (the padding is not hashed)."""
    return memoryview(plain)[:max(0, min(len(plain), size - index * C.CHUNK_SIZE))]


def _hash_fd(fd: int) -> bytes:
    digest = hashlib.sha256()
    view = _thread_buffer()   # 4 MiB: fewer reads and GIL hand-offs per file
    while n := os.readv(fd, [view]):
        digest.update(view[:n])
    return digest.digest()


_buffers = threading.local()


def _thread_buffer() -> memoryview:
    """This thread's read buffer (SMALL_FILE + 1 bytes), reused from file to file.

    Page-aligned (mmap): issue 5's prototype host copied files into such a buffer about
    four times faster than into a bytearray, which starts 16 bytes past a page boundary;
    the AMD host copies into both alike (benchmarks/README.md). Either way nothing is
    allocated per file. What is read into it is used before the thread reads the next
    file: only hashes and ciphertext leave."""
    buffer = getattr(_buffers, "view", None)
    if buffer is None:
        buffer = _buffers.view = memoryview(mmap.mmap(-1, SMALL_FILE + 1))
    return buffer


def _read_into(fd: int, view: memoryview) -> memoryview:
    """Read from fd into view until it is full or the file ends; the part filled."""
    filled = 0
    while filled < len(view) and (n := os.readv(fd, [view[filled:]])):
        filled += n
    return view[:filled]


def _drain(out: queue.Queue) -> None:
    """Let the producer finish after an error, closing any file it opened."""
    while True:
        try:
            item = out.get(timeout=5)
        except queue.Empty:
            return
        if item[0] in ("end", "error"):
            return
        if item[0] == "large":
            os.close(item[4])
        elif item[0] == "streamed-dup":
            os.close(item[3])
        elif isinstance(item[-1], Future):
            item[-1].cancel()
