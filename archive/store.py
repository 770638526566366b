"""Content-addressed objects in append-only pack files, written atomically.

A pack is `PACK_MAGIC ‖ entries`, each `32-byte id ‖ u32 length ‖ bytes`. It is written
under tmp/, fsynced, renamed to packs/ab/<pack id>, and the folders fsynced: only then
may index rows name its objects. Packs are never modified. Every read checks that the
object's SHA-256 is its id. The index (index.py) says where each object is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import mmap
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import constants as C
from . import crypto
from .encoding import read_u32, u32
from .errors import FormatError, IntegrityError
from .fsutil import fsync_dir, write_atomic

ENTRY_HEAD = 32 + 4
_OPEN_PACKS = 4             # packs `reading` keeps open at once
IMPORT_JOURNAL = "import.pending"


@dataclass(frozen=True)
class Located:
    object_id: bytes
    offset: int           # of the object's bytes within the pack file
    length: int


@dataclass
class ClosedPack:
    pack_id: str
    size: int
    entries: list[Located] = field(default_factory=list)


def pack_id_for(ids: list[bytes]) -> str:
    """SHA-256(pack label ‖ the entries' ids in order): no second pass over the bytes."""
    return crypto.labelled_hash(C.PACK, *ids).hex()


class PackWriter:
    """Appends objects to one pack under tmp/; `close` makes it durable and visible.

    Bytes gather in a page-aligned staging buffer and go to the file 4 MiB at a time
    with O_DIRECT where the file system allows it: the disk reads them straight from
    the buffer, instead of the kernel copying every byte into the page cache first and
    writing it back at the fsync (that copy was a tenth of `add`'s CPU; issue 5). The
    unaligned tail, and any file system that refuses O_DIRECT, take ordinary writes.
    """

    def __init__(self, store: "Store") -> None:
        self._store = store
        self._tmp = store.tmp_dir / f"{secrets.token_hex(16)}.pack"
        # 0600 whatever the umask: a home copied out must not expose its packs.
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._direct = _set_direct(self._fd, True)
        self._stage: mmap.mmap | None = None
        self._fill = 0
        self._closed = False
        self._size = 0
        self._put(C.PACK_MAGIC)
        self._entries: list[Located] = []
        self._ids: set[bytes] = set()
        self.kinds: dict[bytes, str] = {}   # for the index rows, filled by the caller

    @property
    def size(self) -> int:
        return self._size

    @property
    def pending_id(self) -> str:
        """The name this pack will take when closed."""
        return pack_id_for([e.object_id for e in self._entries])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, object_id: bytes) -> bool:
        return object_id in self._ids

    def add(self, object_id: bytes, data: bytes) -> None:
        if object_id in self._ids:
            return
        self._put(object_id + u32(len(data)))
        self._put(data)
        self._entries.append(Located(object_id, self._size - len(data), len(data)))
        self._ids.add(object_id)

    def _put(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self._size += len(view)
        while view:
            if self._stage is None:
                self._stage = mmap.mmap(-1, _STAGE_BYTES)   # page-aligned, as O_DIRECT needs
            n = min(len(view), _STAGE_BYTES - self._fill)
            self._stage[self._fill:self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == _STAGE_BYTES:
                self._write_stage(_STAGE_BYTES)

    def _write_stage(self, n: int) -> None:
        """Write the first n staged bytes (n a multiple of _ALIGN while direct)."""
        view = memoryview(self._stage)[:n]
        try:
            while view:
                try:
                    written = os.write(self._fd, view)
                except OSError as e:
                    if e.errno != errno.EINVAL or not self._direct:
                        raise
                    # Mounted somewhere that takes O_DIRECT opens but not these writes.
                    self._direct = _set_direct(self._fd, False)
                    continue
                view = view[written:]
        finally:
            view.release()
        self._stage.move(0, n, self._fill - n)
        self._fill -= n

    def _drain(self) -> None:
        """Everything staged to the file: the aligned part directly, the tail not (after
        which the file's end is unaligned, so the rest of this pack is written plainly)."""
        if self._stage is None:   # nothing staged since the last drain
            return
        if self._direct:
            self._write_stage(self._fill - self._fill % _ALIGN)
            if self._fill:
                self._direct = _set_direct(self._fd, False)
        self._write_stage(self._fill)
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def sync(self) -> None:
        """Make what was written durable now (a staged pack waits for the whole import
        before it is renamed; syncing it early spreads the fsyncs over the import)."""
        self._drain()
        os.fsync(self._fd)

    def close(self) -> ClosedPack | None:
        """fsync, rename into packs/, fsync the folders. None if the pack is empty."""
        if not self._entries:
            self.abort()
            return None
        self.sync()
        self._release()
        pack_id = pack_id_for([e.object_id for e in self._entries])
        folder = self._store.packs_dir / pack_id[:2]
        created = not folder.exists()
        folder.mkdir(mode=0o700, exist_ok=True)
        os.replace(self._tmp, folder / pack_id)
        fsync_dir(folder)
        if created:
            fsync_dir(self._store.packs_dir)
        return ClosedPack(pack_id, self._size, self._entries)

    def abort(self) -> None:
        self._release()
        self._tmp.unlink(missing_ok=True)

    def _release(self) -> None:
        if self._stage is not None:
            self._stage.close()
            self._stage = None
        if not self._closed:
            self._closed = True
            os.close(self._fd)


_ALIGN = 4096                 # O_DIRECT offsets and lengths: a multiple of the block size
_STAGE_BYTES = 4 << 20


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for fd; whether it is on (some file systems refuse it)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | direct) if on else (flags & ~direct))
    except OSError:
        return False
    return on


class Store:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.packs_dir = home / "packs"
        self.tmp_dir = home / "tmp"

    def create(self) -> None:
        for folder in (self.packs_dir, self.tmp_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def clear_tmp(self) -> int:
        """Remove what an interrupted write left in tmp/ (never visible to the index)."""
        removed = 0
        # Never empty a folder we did not make: a tmp/ replaced by a symlink (a tampered
        # stick) must not make us delete the files it points at.
        if self.tmp_dir.is_symlink() or not self.tmp_dir.is_dir():
            raise FormatError(f"{self.tmp_dir} is not a plain folder; nothing was removed",
                              hint="move it aside and create an empty tmp/ folder in its place")
        for leftover in self.tmp_dir.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                raise FormatError(f"{leftover} is a folder, which testimony never writes in tmp/",
                                  hint="move it out of the archive")
            leftover.unlink()
            removed += 1
        return removed

    def writer(self) -> PackWriter:
        return PackWriter(self)

    # An import stages whole packs and must be all or nothing. Its packs are named in a
    # journal before they are renamed into packs/; after a crash, those the index never
    # took are removed rather than indexed (see Archive._recover).
    @property
    def journal_path(self) -> Path:
        return self.home / IMPORT_JOURNAL

    def begin_staged(self, pack_ids: list[str]) -> None:
        write_atomic(self.journal_path, "".join(f"{p}\n" for p in pack_ids).encode(), mode=0o600)

    def end_staged(self) -> None:
        self.journal_path.unlink(missing_ok=True)
        fsync_dir(self.home)

    def roll_back_staged(self, indexed: set[str]) -> int:
        """Remove the packs of an import that never committed; return how many."""
        if not self.journal_path.exists():
            return 0
        removed = 0
        for pack_id in self.journal_path.read_text().split():
            if len(pack_id) == 64 and pack_id not in indexed and self.pack_path(pack_id).exists():
                self.pack_path(pack_id).unlink()
                removed += 1
        self.end_staged()
        return removed

    def pack_path(self, pack_id: str) -> Path:
        return self.packs_dir / pack_id[:2] / pack_id

    def pack_ids(self) -> Iterator[str]:
        for folder in sorted(self.packs_dir.iterdir()):
            if folder.is_dir():
                for pack in sorted(folder.iterdir()):
                    yield pack.name

    def read(self, pack_id: str, located: Located) -> bytes:
        """Read one object and check that its SHA-256 is its id."""
        with self.reading() as read:
            return read(pack_id, located)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Callable[[str, Located], bytes]]:
        """`read` for many objects: each pack is opened once, not once per object (those
        of one pack usually follow each other; a few stay open)."""
        files: dict[str, int] = {}
        try:
            def read(pack_id: str, located: Located) -> bytes:
                # The index row is untrusted too: bound it before allocating what it claims.
                if not (0 <= located.length <= C.MAX_OBJECT_BYTES and located.offset >= 0):
                    raise IntegrityError(f"the index claims object {located.object_id.hex()[:16]} in "
                                         f"pack {pack_id[:16]} is {located.length} bytes at {located.offset}")
                if pack_id not in files:
                    if len(files) >= _OPEN_PACKS:
                        os.close(files.pop(next(iter(files))))
                    try:
                        files[pack_id] = os.open(self.pack_path(pack_id), os.O_RDONLY)
                    except FileNotFoundError as e:
                        raise IntegrityError(f"pack {pack_id[:16]} is missing from the store") from e
                data = os.pread(files[pack_id], located.length, located.offset)
                if len(data) != located.length or hashlib.sha256(data).digest() != located.object_id:
                    raise IntegrityError(f"object {located.object_id.hex()[:16]} in pack {pack_id[:16]} "
                                         "does not match its id")
                return data
            yield read
        finally:
            for fd in files.values():
                os.close(fd)

    def head(self, pack_id: str, located: Located, n: int) -> bytes:
        """The first `n` bytes of an object (unchecked: for telling kinds apart only)."""
        with open(self.pack_path(pack_id), "rb") as f:
            return os.pread(f.fileno(), min(n, located.length), located.offset)

    def scan_pack(self, pack_id: str, *, read_data: bool) -> list[Located]:
        """Parse a pack's entries; check its name, and with `read_data` every object's id."""
        path = self.pack_path(pack_id)
        entries: list[Located] = []
        buffer = bytearray(C.CHUNK_SIZE + 16) if read_data else None   # a chunk object; reused
        with open(path, "rb") as f:
            if f.read(len(C.PACK_MAGIC)) != C.PACK_MAGIC:
                raise FormatError(f"pack {pack_id[:16]} does not start with the pack magic")
            offset = len(C.PACK_MAGIC)
            total = os.fstat(f.fileno()).st_size
            while offset < total:
                head = f.read(ENTRY_HEAD)
                if len(head) != ENTRY_HEAD:
                    raise FormatError(f"pack {pack_id[:16]} is truncated")
                length = read_u32(head, 32)
                if length > C.MAX_OBJECT_BYTES or offset + ENTRY_HEAD + length > total:
                    raise FormatError(f"pack {pack_id[:16]} has an entry past its end")
                entry = Located(head[:32], offset + ENTRY_HEAD, length)
                if read_data:
                    if hashlib.sha256(_read_exactly(f, buffer, length)).digest() != entry.object_id:
                        raise IntegrityError(f"object {entry.object_id.hex()[:16]} in pack "
                                             f"{pack_id[:16]} does not match its id")
                else:
                    f.seek(length, os.SEEK_CUR)
                entries.append(entry)
                offset += ENTRY_HEAD + length
        if pack_id_for([e.object_id for e in entries]) != pack_id:
            raise IntegrityError(f"pack {pack_id[:16]} does not match its name")
        return entries


def _read_exactly(f, buffer: bytearray, length: int) -> memoryview | bytes:
    """The next `length` bytes of f: into `buffer` when they fit (a chunk), else read."""
    if length > len(buffer):
        return f.read(length)
    view = memoryview(buffer)[:length]
    got = f.readinto(view)
    return view if got == length else view[:got]
