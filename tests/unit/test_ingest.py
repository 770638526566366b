"""archive.recordwriter, archive.filelist and archive.ingest: writing records, listing
files, and the `add` pipeline."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path
from typing import Callable

import pytest

from archive import constants as C
from archive.errors import ArchiveError, IntegrityError, NotFoundError, UsageError
from archive.chunks import chunk_count
from archive.filelist import collect_files, display_name
from archive.ingest import SMALL_FILE, Ingest
from archive.recordwriter import RecordWriter
from archive.sealing import media_type


def _rand(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _state(archive) -> tuple[dict[str, int], list[str], list[str]]:
    packs = sorted(p.name for p in archive.store.packs_dir.rglob("*") if p.is_file())
    return archive.index.counts(), packs, sorted(p.name for p in archive.store.tmp_dir.iterdir())


# --- collecting files ---------------------------------------------------------------------------

def test_collect_a_file_and_a_folder(tmp_path):
    (tmp_path / "case" / "sub").mkdir(parents=True)
    (tmp_path / "case" / "b.txt").write_bytes(b"bb")
    (tmp_path / "case" / "a.txt").write_bytes(b"a")
    (tmp_path / "case" / "sub" / "c.jpg").write_bytes(b"ccc")
    (tmp_path / "single.pdf").write_bytes(b"s")
    tasks = collect_files([tmp_path / "single.pdf", tmp_path / "case"])
    assert [(t.name, t.size) for t in tasks] == [
        ("single.pdf", 1), ("case/a.txt", 1), ("case/b.txt", 2), ("case/sub/c.jpg", 3)]


def test_collect_missing_path(tmp_path):
    with pytest.raises(NotFoundError, match="no such file"):
        collect_files([tmp_path / "nope"])


def test_collect_refuses_special_files(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        collect_files([fifo])


def test_collect_skips_special_files_inside_folders(tmp_path):
    (tmp_path / "d").mkdir()
    os.mkfifo(tmp_path / "d" / "pipe")
    (tmp_path / "d" / "f").write_bytes(b"x")
    assert [t.name for t in collect_files([tmp_path / "d"])] == ["d/f"]


def test_collect_does_not_follow_symlinked_folders(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"s")
    os.symlink(tmp_path / "outside", tmp_path / "d" / "link")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    os.symlink(tmp_path / "outside" / "secret", tmp_path / "d" / "filelink")
    names = [t.name for t in collect_files([tmp_path / "d"])]
    assert names == ["d/f", "d/filelink"]


def test_collect_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert collect_files([tmp_path / "empty"]) == []


def test_display_name_escapes_undecodable_bytes():
    assert display_name(os.fsdecode(b"caf\xe9.txt")) == "caf\\xe9.txt"
    assert display_name("ok ж.txt") == "ok ж.txt"
    display_name(os.fsdecode(b"\xff\xfe")).encode("utf-8")  # always valid Unicode


@pytest.mark.parametrize("name, expected", [
    ("photo.jpg", "image/jpeg"), ("scan.PDF", "application/pdf"), ("notes.txt", "text/plain"),
    ("noext", "application/octet-stream"), ("x.unknownext", "application/octet-stream"),
])
def test_media_type(name, expected):
    assert media_type(name) == expected


# --- RecordWriter -------------------------------------------------------------------------------

def test_record_writer_commits_only_on_finish(archive):
    before = _state(archive)
    writer = RecordWriter(archive.store, archive.index)
    data = b"an object"
    oid = hashlib.sha256(data).digest()
    writer.put_object(oid, data, "chunk")
    writer.put_object(oid, data, "chunk")
    assert writer.new_objects == 1
    assert archive.index.locate(oid) is None
    assert _state(archive)[:2] == before[:2]
    writer.finish()
    pack_id, where = archive.index.locate(oid)
    assert archive.store.read(pack_id, where) == data
    assert _state(archive)[2] == []
    # Already stored: a second writer stores nothing.
    again = RecordWriter(archive.store, archive.index)
    again.put_object(oid, data, "chunk")
    again.finish()
    assert again.new_objects == 0
    assert archive.index.counts()["packs"] == before[0]["packs"] + 1


def test_record_writer_commits_rows_only_once_their_pack_is_durable(archive, monkeypatch):
    """A cut's rows are committed when the pack thread hands the closed pack back, never
    before: with the thread held before its fsync, nothing reaches the index."""
    import threading

    import archive.store as store_module
    held, release = threading.Event(), threading.Event()
    real_fsync = store_module.os.fsync

    def slow_fsync(fd):
        held.set()
        release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(store_module.os, "fsync", slow_fsync)
    monkeypatch.setattr(C, "PACK_TARGET_BYTES", 1000)   # every object makes a cut
    before = archive.index.counts()
    writer = RecordWriter(archive.store, archive.index)
    ids = []
    for i in range(3):
        data = bytes([i]) * 2000
        ids.append(hashlib.sha256(data).digest())
        writer.put_object(ids[-1], data, "chunk")
        writer.put_chunks([])           # where `add` looks for cuts that are done
    assert held.wait(10)
    assert archive.index.counts() == before and all(archive.index.locate(i) is None for i in ids)
    release.set()
    writer.finish()
    assert all(archive.index.locate(i) is not None for i in ids)
    assert archive.index.counts()["packs"] == before["packs"] + 3


def test_record_writer_abort_keeps_durable_packs_and_drops_the_rest(archive, monkeypatch):
    monkeypatch.setattr(C, "PACK_TARGET_BYTES", 1000)
    writer = RecordWriter(archive.store, archive.index)
    first = bytes(2000)
    writer.put_object(hashlib.sha256(first).digest(), first, "chunk")
    writer.put_chunks([])                                   # a cut: its pack closes
    writer.put_object(hashlib.sha256(b"tail").digest(), b"tail", "chunk")   # not cut
    writer.abort()
    assert archive.index.locate(hashlib.sha256(first).digest()) is not None
    assert archive.index.locate(hashlib.sha256(b"tail").digest()) is None
    assert list(archive.store.tmp_dir.iterdir()) == []


def test_record_writer_abort_leaves_nothing(archive):
    before = _state(archive)
    writer = RecordWriter(archive.store, archive.index)
    writer.put_object(hashlib.sha256(b"x").digest(), b"x", "chunk")
    writer.abort()
    assert _state(archive) == before


# --- add ----------------------------------------------------------------------------------------

def test_add_small_and_large_files(archive, tmp_path):
    small, large = tmp_path / "small.txt", tmp_path / "large.bin"
    small.write_bytes(b"small evidence")
    large.write_bytes(_rand(SMALL_FILE + 12345, seed=1))
    seen = []
    summary = archive.add([small, large], tags=["t2", "t1", "t2"], progress=seen.append)
    assert summary.files == 2 and summary.new == 2 and summary.duplicates == 0
    assert summary.bytes == small.stat().st_size + large.stat().st_size
    assert sum(seen) == summary.bytes
    assert [n for n, _ in summary.new_records] == ["small.txt", "large.bin"]
    for name, rid in summary.new_records:
        view = archive.show(rid)
        assert view.statement["kind"] == "evidence"
        assert view.fields == {"title": name, "tags": ["t1", "t2"]}
        [att] = view.attachments
        original = tmp_path / name
        assert att["name"] == name and att["size"] == original.stat().st_size
        assert att["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
        out = tmp_path / f"out-{name}"
        [written] = archive.extract(rid, out)
        assert written.read_bytes() == original.read_bytes()
    assert archive.verify().ok
    assert _state(archive)[2] == []


def test_add_same_bytes_twice_stores_nothing_new(archive, tmp_path):
    small, large = tmp_path / "a.txt", tmp_path / "big.bin"
    small.write_bytes(b"same bytes")
    large.write_bytes(_rand(SMALL_FILE + 1, seed=2))
    first = archive.add([small, large])
    counts, packs, _ = _state(archive)
    copy_dir = tmp_path / "copies"
    copy_dir.mkdir()
    (copy_dir / "renamed.txt").write_bytes(b"same bytes")
    (copy_dir / "renamed.bin").write_bytes(large.read_bytes())
    second = archive.add([small, large, copy_dir])
    assert second.new == 0 and second.duplicates == 4 and second.stored_bytes == 0
    assert _state(archive)[:2] == (counts, packs)
    first_ids = dict(first.new_records)
    assert dict(second.duplicate_files)["a.txt"] == first_ids["a.txt"]
    assert dict(second.duplicate_files)["copies/renamed.bin"] == first_ids["big.bin"]


def test_add_identical_files_in_one_run(archive, tmp_path):
    for name in ("one.txt", "two.txt", "three.txt"):
        (tmp_path / name).write_bytes(b"identical")
    summary = archive.add([tmp_path / "one.txt", tmp_path / "two.txt", tmp_path / "three.txt"])
    assert summary.new == 1 and summary.duplicates == 2
    rid = summary.new_records[0][1]
    assert [r for _, r in summary.duplicate_files] == [rid, rid]
    assert len(archive.list_records()) == 1


def test_add_empty_file(archive, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    summary = archive.add([empty])
    [(_, rid)] = summary.new_records
    [written] = archive.extract(rid, tmp_path / "out")
    assert written.read_bytes() == b""


def test_add_undecodable_file_name(archive, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"\xff\xfename.txt")
    with open(raw, "wb") as f:
        f.write(b"content")
    summary = archive.add([folder])
    [(name, rid)] = summary.new_records
    assert name == "d/\\xff\\xfename.txt"
    assert archive.show(rid).attachments[0]["name"] == name


def _changed_after_listing(monkeypatch, change) -> Callable[[], None]:
    """`add` lists its files, then `change()` runs before any is read; returns what
    undoes the patch."""
    import archive.api as api_module
    real = api_module.collect_files

    def collect_then_change(paths):
        tasks = real(paths)
        change()
        return tasks
    monkeypatch.setattr(api_module, "collect_files", collect_then_change)
    return lambda: monkeypatch.setattr(api_module, "collect_files", real)


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_add_file_that_changed_after_listing_commits_nothing(archive, tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    before = _state(archive)
    _changed_after_listing(monkeypatch, lambda: _append(b, b" and more"))   # grows before it is read
    with pytest.raises(IntegrityError, match="changed"):
        archive.add([a, b])
    assert _state(archive) == before
    assert archive.list_records() == []


def test_large_file_that_grew_after_listing_is_refused(archive, tmp_path, monkeypatch):
    """Chunks are cut to the listed size: the hash must cover those same bytes, or the
    record would carry a SHA-256 its own evidence can never match."""
    big = tmp_path / "recording.bin"
    big.write_bytes(_rand(SMALL_FILE + 100, seed=5))
    before = _state(archive)
    undo = _changed_after_listing(monkeypatch, lambda: _append(big, b"still recording"))
    with pytest.raises(IntegrityError, match="changed"):
        archive.add([big])
    assert _state(archive) == before
    undo()
    [(_, rid)] = archive.add([big]).new_records
    [written] = archive.extract(rid, tmp_path / "out")
    assert written.read_bytes() == big.read_bytes()


def test_add_file_that_vanished_after_listing_is_a_clear_error(archive, tmp_path, monkeypatch):
    a = tmp_path / "a.txt"
    a.write_bytes(b"first")
    big = tmp_path / "big.bin"
    big.write_bytes(_rand(SMALL_FILE + 1))
    import archive.api as api_module
    real = api_module.collect_files
    before = _state(archive)
    for victim in (a, big):
        def collect_then_remove(paths, victim=victim):
            tasks = real(paths)
            data = victim.read_bytes()
            victim.unlink()
            collect_then_remove.restore = lambda: victim.write_bytes(data)
            return tasks
        monkeypatch.setattr(api_module, "collect_files", collect_then_remove)
        started = time.monotonic()
        with pytest.raises(ArchiveError, match=victim.name):
            archive.add([victim])
        assert time.monotonic() - started < 2.5   # the error is reported at once, no wait
        collect_then_remove.restore()
        assert _state(archive) == before


def test_ingest_direct_dedup_against_index(archive, tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"x")
    archive.add([f])
    writer = RecordWriter(archive.store, archive.index)
    ingest = Ingest(archive.keys, archive.sealer, writer, archive.index, tags=[], now=lambda: "2024-01-01T00:00:00Z")
    summary = ingest.run(collect_files([f]))
    assert summary.new == 0 and summary.duplicates == 1


def test_add_many_files_across_pack_boundaries(archive, tmp_path, monkeypatch):
    """Several packs in one run (a small pack target): every record still readable."""
    import archive.ingest as ingest_module
    monkeypatch.setattr(ingest_module.C, "PACK_TARGET_BYTES", 4096)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"f{i:02}.bin").write_bytes(_rand(3000, seed=i))
    summary = archive.add([folder])
    assert summary.new == 12
    assert archive.index.counts()["packs"] >= 6
    assert archive.verify().ok and len(archive.verify().records) == 12
    assert archive.check(read_data=True).ok


# --- Large files: one pass when new, hash first when they may be stored -----------------

def _chunk_objects(archive) -> int:
    return archive.index.db.execute("SELECT count(*) FROM objects WHERE kind = 'chunk'").fetchone()[0]


def _spy_paths(monkeypatch) -> dict[str, int]:
    """Counts how `add` took each large file: streamed in one pass, or hashed first."""
    import archive.ingest as ingest_module
    taken = {"streamed": 0, "hashed first": 0}
    real_stream, real_hash = Ingest._produce_streaming, ingest_module._hash_fd

    def stream(self, *args):
        taken["streamed"] += 1
        return real_stream(self, *args)

    def hash_first(fd):
        taken["hashed first"] += 1
        return real_hash(fd)
    monkeypatch.setattr(Ingest, "_produce_streaming", stream)
    monkeypatch.setattr(ingest_module, "_hash_fd", hash_first)
    return taken


def test_a_new_large_file_is_streamed_once_and_reads_back(archive, tmp_path, monkeypatch):
    taken = _spy_paths(monkeypatch)
    big = tmp_path / "video.mp4"
    big.write_bytes(_rand(3 * SMALL_FILE + 12345, seed=11))
    [(_, rid)] = archive.add([big]).new_records
    assert taken == {"streamed": 1, "hashed first": 0}
    view = archive.show(rid)
    assert view.attachments[0]["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    [written] = archive.extract(rid, tmp_path / "out")
    assert written.read_bytes() == big.read_bytes()
    assert archive.verify(rid).ok


def test_a_stored_large_file_is_hashed_first_and_costs_no_encryption(archive, tmp_path, monkeypatch):
    big = tmp_path / "video.mp4"
    big.write_bytes(_rand(SMALL_FILE + 1, seed=12))
    archive.add([big])
    taken = _spy_paths(monkeypatch)
    objects = _chunk_objects(archive)
    summary = archive.add([big])
    assert (summary.new, summary.duplicates, summary.stored_bytes) == (0, 1, 0)
    assert taken == {"streamed": 0, "hashed first": 1}
    assert _chunk_objects(archive) == objects


def test_a_new_file_that_begins_like_a_stored_one_is_hashed_first_and_recorded(archive, tmp_path, monkeypatch):
    """Its first chunk is stored (a longer recording of the same start): it may be a
    duplicate, so it is hashed first — and then, being new, recorded in full."""
    start = _rand(SMALL_FILE + 1, seed=13)
    first, longer = tmp_path / "part.mp4", tmp_path / "whole.mp4"
    first.write_bytes(start)
    longer.write_bytes(start + _rand(SMALL_FILE, seed=14))
    archive.add([first])
    taken = _spy_paths(monkeypatch)
    [(_, rid)] = archive.add([longer]).new_records
    assert taken == {"streamed": 0, "hashed first": 1}
    [written] = archive.extract(rid, tmp_path / "out")
    assert written.read_bytes() == longer.read_bytes()


def test_identical_large_files_streamed_side_by_side_are_stored_once(archive, tmp_path, monkeypatch):
    """When both are probed before either is written (as the probes ahead often are; made
    certain here), both stream; the second is found a duplicate only at the end, and its
    chunks are the first one's objects."""
    from archive.index import ObjectProbe
    monkeypatch.setattr(RecordWriter, "has_sent", lambda self, object_id: False)
    monkeypatch.setattr(ObjectProbe, "has", lambda self, object_id: False)
    taken = _spy_paths(monkeypatch)
    data = _rand(2 * SMALL_FILE + 7, seed=15)
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(data)
    summary = archive.add([tmp_path / "a.mp4", tmp_path / "b.mp4"])
    assert (summary.new, summary.duplicates) == (1, 1)
    assert taken["streamed"] == 2
    [(_, rid)] = summary.new_records
    assert dict(summary.duplicate_files)["b.mp4"] == rid
    assert _chunk_objects(archive) == chunk_count(len(data))   # no orphan or twice-stored chunk
    assert archive.check(read_data=True).ok and archive.verify().ok


def test_a_large_file_rewritten_while_it_streams_is_refused(archive, tmp_path, monkeypatch):
    """One pass hashes exactly the bytes it encrypts; a file written meanwhile is still
    refused (its size or mtime moved), and nothing is committed."""
    import archive.ingest as ingest_module
    big = tmp_path / "recording.mp4"
    big.write_bytes(_rand(3 * SMALL_FILE, seed=16))
    before = _state(archive)
    real = ingest_module.read_padded_chunk

    def read_then_touch(fd, size, index):
        if index == 5:
            os.utime(big, ns=(time.time_ns(), time.time_ns() + 10**9))
        return real(fd, size, index)
    monkeypatch.setattr(ingest_module, "read_padded_chunk", read_then_touch)
    with pytest.raises(IntegrityError, match="changed"):
        archive.add([big])
    assert _state(archive)[0]["records"] == before[0]["records"]
    assert archive.list_records() == []


def test_a_large_file_cut_short_while_it_streams_is_refused_and_closed(archive, tmp_path, monkeypatch):
    """A file truncated under us fails the read of a later chunk: one clear error, no
    record, and the descriptor is closed (no file left open after the command)."""
    import archive.ingest as ingest_module
    big = tmp_path / "recording.mp4"
    big.write_bytes(_rand(3 * SMALL_FILE, seed=17))
    real = ingest_module.read_padded_chunk

    def read_then_truncate(fd, size, index):
        if index == 6:
            os.truncate(big, 2 * C.CHUNK_SIZE)
        return real(fd, size, index)
    monkeypatch.setattr(ingest_module, "read_padded_chunk", read_then_truncate)
    with pytest.raises(IntegrityError, match="changed"):
        archive.add([big])
    assert archive.list_records() == []
    still_open = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            still_open.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass   # the descriptor listdir itself used
    assert str(big) not in still_open


# --- Many small files: records sealed in worker processes -------------------------------

def _worker_pids() -> set[int]:
    """Our own `python -c` workers among this process's children."""
    pids = set()
    for child in os.listdir("/proc"):
        if child.isdigit():
            try:
                with open(f"/proc/{child}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and b"workerpool" in cmdline:
                pids.add(int(child))
    return pids


@pytest.fixture
def sealing_processes(monkeypatch):
    import archive.ingest as ingest_module
    monkeypatch.setattr(ingest_module, "SEAL_PROCESS_FILES", 2)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 3)   # several sealing jobs in flight
    started = []
    real = ingest_module.WorkerPool
    monkeypatch.setattr(ingest_module, "WorkerPool", lambda *a, **k: started.append(1) or real(*a, **k))
    return started


def test_small_files_sealed_in_processes_are_the_same_records(archive, tmp_path, sealing_processes):
    stored = tmp_path / "stored.txt"
    stored.write_bytes(b"already in the archive")
    archive.add([stored])
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(8):
        (folder / f"note-{i}.txt").write_bytes(f"field note {i}".encode())
    (folder / "note-again.txt").write_bytes(b"field note 3")          # a duplicate in this run
    (folder / "stored-copy.txt").write_bytes(b"already in the archive")  # stored before
    (folder / "empty.txt").write_bytes(b"")
    summary = archive.add([folder], tags=["clinic"])
    assert sealing_processes and not _worker_pids()
    assert (summary.new, summary.duplicates) == (9, 2)
    for name, rid in summary.new_records:
        view = archive.show(rid)
        assert view.fields == {"title": name, "tags": ["clinic"]}
        [written] = archive.extract(rid, tmp_path / "out" / rid)
        assert written.read_bytes() == (tmp_path / name).read_bytes()
    report = archive.verify()
    assert report.ok and all(r.custody_events == 1 for r in report.records)


def test_an_error_while_sealing_in_processes_leaves_no_worker_and_no_record(archive, tmp_path,
                                                                            sealing_processes, monkeypatch):
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(7):
        (folder / f"note-{i}.txt").write_bytes(f"note {i}".encode())
    import archive.api as api_module
    real = api_module.collect_files

    def collect_then_remove(paths):
        tasks = real(paths)
        (folder / "note-5.txt").unlink()
        return tasks
    monkeypatch.setattr(api_module, "collect_files", collect_then_remove)
    with pytest.raises(ArchiveError, match="note-5.txt"):
        archive.add([folder])
    assert sealing_processes and not _worker_pids()
    assert all(not r.title.startswith("note-5") for r in archive.list_records())


def test_identical_large_files_in_one_run_are_stored_once_whichever_path(archive, tmp_path):
    data = _rand(2 * SMALL_FILE + 3, seed=18)
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(data)
    summary = archive.add([tmp_path / n for n in ("a.mp4", "b.mp4", "c.mp4")])
    assert (summary.new, summary.duplicates) == (1, 2)
    assert _chunk_objects(archive) == chunk_count(len(data))
    assert archive.check(read_data=True).ok and archive.verify().ok


def test_small_files_read_through_one_reused_buffer_keep_their_own_bytes(archive, tmp_path):
    """Each worker thread reads every small file into the same buffer: a short file after
    a longer one must not carry the longer one's tail, in its hash or in what is stored."""
    folder = tmp_path / "batch"
    folder.mkdir()
    sizes = [70_000, 3, 40_000, 1, 0, 69_999, 12]
    for i, size in enumerate(sizes):
        (folder / f"f{i:02}.bin").write_bytes(_rand(size, seed=100 + i))
    summary = archive.add([folder])
    assert summary.new == len(sizes)
    out = tmp_path / "out"
    for name, rid in summary.new_records:
        [written] = archive.extract(rid, out / rid[:8])
        assert written.read_bytes() == (folder / Path(name).name).read_bytes()
        assert archive.show(rid).attachments[0]["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()



def test_small_file_made_a_folder_after_listing_is_one_clear_error(archive, tmp_path, monkeypatch):
    note = tmp_path / "note.txt"
    note.write_bytes(b"what the witness said")
    before = _state(archive)

    def make_folder():
        note.unlink()
        note.mkdir()
    _changed_after_listing(monkeypatch, make_folder)
    with pytest.raises(UsageError, match="note.txt: Is a directory"):
        archive.add([note])
    assert _state(archive) == before

def test_small_file_that_shrank_after_listing_is_refused(archive, tmp_path, monkeypatch):
    note = tmp_path / "note.txt"
    note.write_bytes(b"what the witness said, in full")
    before = _state(archive)
    _changed_after_listing(monkeypatch, lambda: note.write_bytes(b"what the"))
    with pytest.raises(IntegrityError, match="changed"):
        archive.add([note])
    assert _state(archive) == before
