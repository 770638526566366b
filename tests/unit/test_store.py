"""archive.store: content-addressed objects in append-only pack files."""

from __future__ import annotations

import hashlib
import os

import pytest

from archive import constants as C
from archive.encoding import u32
from archive.errors import FormatError, IntegrityError
from archive.store import Located, Store, pack_id_for


def _obj(data: bytes) -> tuple[bytes, bytes]:
    return hashlib.sha256(data).digest(), data


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "home")
    s.create()
    return s


def _write_pack(store: Store, *datas: bytes):
    writer = store.writer()
    for data in datas:
        writer.add(*_obj(data))
    return writer.close()


def _visible_files(store: Store) -> list[str]:
    return sorted(str(p.relative_to(store.packs_dir)) for p in store.packs_dir.rglob("*") if p.is_file())


def test_create_makes_private_folders(store):
    for folder in (store.packs_dir, store.tmp_dir):
        assert folder.is_dir() and (os.stat(folder).st_mode & 0o777) == 0o700


def test_pack_id_formula():
    ids = [bytes([1]) * 32, bytes([2]) * 32]
    assert pack_id_for(ids) == hashlib.sha256(C.PACK + ids[0] + ids[1]).hexdigest()
    assert pack_id_for(ids) != pack_id_for(list(reversed(ids)))


def test_pack_layout_and_read_back(store):
    a, b = _obj(b"first object"), _obj(b"second")
    writer = store.writer()
    writer.add(*a)
    writer.add(*b)
    assert len(writer) == 2 and a[0] in writer
    closed = writer.close()
    assert closed.pack_id == pack_id_for([a[0], b[0]])
    path = store.pack_path(closed.pack_id)
    assert path.parent.name == closed.pack_id[:2]
    raw = path.read_bytes()
    assert raw == C.PACK_MAGIC + a[0] + u32(len(a[1])) + a[1] + b[0] + u32(len(b[1])) + b[1]
    assert closed.size == len(raw)
    assert [store.read(closed.pack_id, e) for e in closed.entries] == [a[1], b[1]]
    assert store.scan_pack(closed.pack_id, read_data=True) == closed.entries
    assert list(store.pack_ids()) == [closed.pack_id]


def test_writer_skips_an_object_added_twice(store):
    writer = store.writer()
    writer.add(*_obj(b"x"))
    writer.add(*_obj(b"x"))
    closed = writer.close()
    assert len(closed.entries) == 1


def test_pack_writer_writes_nothing_visible_until_close(store):
    writer = store.writer()
    writer.add(*_obj(b"secret evidence" * 100))
    writer.add(*_obj(b"more"))
    assert _visible_files(store) == []
    assert list(store.pack_ids()) == []
    leftovers = list(store.tmp_dir.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".pack")
    closed = writer.close()
    assert list(store.tmp_dir.iterdir()) == []
    assert _visible_files(store) == [f"{closed.pack_id[:2]}/{closed.pack_id}"]


def test_empty_writer_closes_to_nothing(store):
    writer = store.writer()
    assert writer.close() is None
    assert list(store.tmp_dir.iterdir()) == [] and _visible_files(store) == []


def test_abort_leaves_nothing(store):
    writer = store.writer()
    writer.add(*_obj(b"x"))
    writer.abort()
    assert list(store.tmp_dir.iterdir()) == [] and _visible_files(store) == []


def test_clear_tmp_removes_leftovers(store):
    writer = store.writer()
    writer.add(*_obj(b"x"))          # an interrupted write
    (store.tmp_dir / "other.pack").write_bytes(b"half")
    assert store.clear_tmp() == 2
    assert list(store.tmp_dir.iterdir()) == []


def test_same_objects_same_pack_name(tmp_path):
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    a.create()
    b.create()
    assert _write_pack(a, b"1", b"2").pack_id == _write_pack(b, b"1", b"2").pack_id


def test_object_whose_bytes_changed_fails_its_id_check(store):
    closed = _write_pack(store, b"evidence bytes", b"other")
    path = store.pack_path(closed.pack_id)
    entry = closed.entries[0]
    raw = bytearray(path.read_bytes())
    raw[entry.offset + 3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="does not match its id"):
        store.read(closed.pack_id, entry)
    assert store.read(closed.pack_id, closed.entries[1]) == b"other"
    with pytest.raises(IntegrityError):
        store.scan_pack(closed.pack_id, read_data=True)
    # Without read_data, only the structure is checked.
    assert store.scan_pack(closed.pack_id, read_data=False) == closed.entries


def test_read_with_a_lying_location_fails(store):
    closed = _write_pack(store, b"abcdef", b"ghijkl")
    e = closed.entries[0]
    for bad in (Located(e.object_id, e.offset + 1, e.length), Located(e.object_id, e.offset, e.length - 1),
                Located(e.object_id, e.offset, e.length + 1), Located(closed.entries[1].object_id, e.offset, e.length),
                Located(e.object_id, 10**9, e.length)):
        with pytest.raises(IntegrityError):
            store.read(closed.pack_id, bad)


def test_read_from_a_missing_pack(store):
    closed = _write_pack(store, b"x")
    os.unlink(store.pack_path(closed.pack_id))
    with pytest.raises(IntegrityError, match="missing"):
        store.read(closed.pack_id, closed.entries[0])


def test_scan_pack_detects_a_renamed_pack(store):
    one = _write_pack(store, b"one")
    two = _write_pack(store, b"two")
    # Swap the contents of the two packs: each now sits under the other's name.
    p1, p2 = store.pack_path(one.pack_id), store.pack_path(two.pack_id)
    d1, d2 = p1.read_bytes(), p2.read_bytes()
    p1.write_bytes(d2)
    p2.write_bytes(d1)
    for pack_id in (one.pack_id, two.pack_id):
        for read_data in (False, True):
            with pytest.raises(IntegrityError, match="does not match its name"):
                store.scan_pack(pack_id, read_data=read_data)


def test_scan_pack_detects_truncation_at_every_length(store):
    closed = _write_pack(store, b"a" * 40, b"b" * 3, b"")
    path = store.pack_path(closed.pack_id)
    raw = path.read_bytes()
    for n in range(len(raw)):
        path.write_bytes(raw[:n])
        with pytest.raises((FormatError, IntegrityError)):
            store.scan_pack(closed.pack_id, read_data=False)


def test_scan_pack_detects_appended_bytes(store):
    closed = _write_pack(store, b"a")
    path = store.pack_path(closed.pack_id)
    raw = path.read_bytes()
    for extra in (b"\0", bytes(36), *_obj(b"z")[:1]):
        path.write_bytes(raw + extra)
        with pytest.raises((FormatError, IntegrityError)):
            store.scan_pack(closed.pack_id, read_data=True)
    # An appended well-formed entry changes the entry list, so the name no longer matches.
    oid, data = _obj(b"smuggled")
    path.write_bytes(raw + oid + u32(len(data)) + data)
    with pytest.raises(IntegrityError, match="name"):
        store.scan_pack(closed.pack_id, read_data=True)


def test_scan_pack_bad_magic(store):
    closed = _write_pack(store, b"a")
    path = store.pack_path(closed.pack_id)
    path.write_bytes(b"TESTIMONY-PACK-2\n" + path.read_bytes()[len(C.PACK_MAGIC):])
    with pytest.raises(FormatError, match="magic"):
        store.scan_pack(closed.pack_id, read_data=False)


def test_scan_pack_refuses_an_oversized_entry_length(store):
    oid = bytes(32)
    pack_id = pack_id_for([oid])
    folder = store.packs_dir / pack_id[:2]
    folder.mkdir()
    (folder / pack_id).write_bytes(C.PACK_MAGIC + oid + u32(0xFFFFFFFF) + b"x")
    with pytest.raises(FormatError, match="past its end"):
        store.scan_pack(pack_id, read_data=True)


def test_pack_ids_ignore_stray_files(store):
    closed = _write_pack(store, b"a")
    (store.packs_dir / "README").write_text("stray")
    assert list(store.pack_ids()) == [closed.pack_id]


def test_packs_and_their_folders_are_private_whatever_the_umask(tmp_path):
    store = Store(tmp_path)
    store.create()
    old = os.umask(0)
    try:
        writer = store.writer()
        writer.add(hashlib.sha256(b"evidence").digest(), b"evidence")
        pack = writer.close()
    finally:
        os.umask(old)
    path = store.pack_path(pack.pack_id)
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert (os.stat(path.parent).st_mode & 0o777) == 0o700


# --- Staged, O_DIRECT writes ------------------------------------------------------------

def _sizes_across_stages() -> list[int]:
    """Objects whose ends fall before, on and after the 4 MiB staging boundaries."""
    stage = 4 << 20
    return [1, 4095, 4096, stage - 36 - len(C.PACK_MAGIC), stage + 1, C.CHUNK_SIZE + 16, 3 * stage + 7]


def _pattern(size: int, seed: int) -> bytes:
    block = hashlib.sha256(bytes([seed])).digest()
    return (block * (size // 32 + 1))[:size]


@pytest.mark.parametrize("direct", [True, False], ids=["o_direct", "buffered"])
def test_packs_are_byte_exact_across_staging_boundaries(store, monkeypatch, direct):
    if not direct:
        monkeypatch.setattr("archive.store._set_direct", lambda fd, on: False)
    datas = [_pattern(n, i) for i, n in enumerate(_sizes_across_stages())]
    closed = _write_pack(store, *datas)
    expected = C.PACK_MAGIC + b"".join(_obj(d)[0] + u32(len(d)) + d for d in datas)
    assert store.pack_path(closed.pack_id).read_bytes() == expected
    assert closed.size == len(expected)
    assert [store.read(closed.pack_id, e) for e in closed.entries] == datas


def test_a_file_system_that_refuses_direct_writes_gets_plain_ones(store, monkeypatch):
    """Some mounts accept an O_DIRECT open and then reject the writes with EINVAL."""
    real_write, refused = os.write, []

    def write(fd, data):
        if os.O_DIRECT & __import__("fcntl").fcntl(fd, __import__("fcntl").F_GETFL):
            refused.append(len(data))
            raise OSError(22, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr("archive.store._set_direct", _fake_direct_flag())
    monkeypatch.setattr("archive.store.os.write", write)
    data = _pattern(9 << 20, 1)
    closed = _write_pack(store, data)
    assert refused, "the direct write was never tried"
    assert store.read(closed.pack_id, closed.entries[0]) == data


def _fake_direct_flag():
    """Set O_DIRECT through fcntl even where the file system would refuse it (tmpfs)."""
    import fcntl

    def set_direct(fd, on):
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, (flags | os.O_DIRECT) if on else (flags & ~os.O_DIRECT))
        except OSError:
            return False
        return on
    return set_direct


def test_a_disk_error_while_writing_is_raised_and_leaves_no_pack(store, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    writer = store.writer()
    monkeypatch.setattr("archive.store.os.write", full)
    with pytest.raises(OSError) as raised:
        writer.add(*_obj(_pattern(5 << 20, 2)))   # more than a stage: written at once
    assert raised.value.errno == 28
    writer.abort()
    assert list(store.tmp_dir.iterdir()) == [] and _visible_files(store) == []


def test_sync_writes_everything_staged(store):
    writer = store.writer()
    data = _pattern(100_000, 3)
    writer.add(*_obj(data))
    writer.sync()
    tmp = next(store.tmp_dir.iterdir())
    assert tmp.stat().st_size == writer.size   # durable before the rename, as imports need
    writer.add(*_obj(b"after the sync"))
    closed = writer.close()
    assert [store.read(closed.pack_id, e) for e in closed.entries] == [data, b"after the sync"]


def test_a_synced_pack_closes_without_anything_more(store):
    """An import syncs each staged pack when it is full and closes it at the very end."""
    writer = store.writer()
    data = _pattern(300_000, 4)
    writer.add(*_obj(data))
    writer.sync()
    writer.sync()
    closed = writer.close()
    assert [store.read(closed.pack_id, e) for e in closed.entries] == [data]
