"""archive.api: the `Archive` facade: create, unlock, record, read, extract, check, recover."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest

import archive.api as api
from archive import constants as C
from archive import keys as keyfiles
from archive.api import Archive
from archive.fsutil import safe_file_name
from archive.errors import (IntegrityError, KeyAccessError, LockedError,
                            NotFoundError, UsageError)

from ..conftest import TEST_KDF, TEST_PASSPHRASE

FIELDS = {"title": "Refused at the clinic", "body": "They said no.\n", "tags": ["clinic"],
          "witness": {"pseudonym": "W-17", "consent": "legal"}, "location": "Riverside"}


def _file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _reopen(archive: Archive, *, unlock: bool = True) -> Archive:
    archive.close()
    again = Archive(archive.home, archive.keys_dir)
    if unlock:
        again.unlock(TEST_PASSPHRASE)
    return again


# --- create, open, unlock -----------------------------------------------------------------------

def test_create_makes_a_locked_private_archive(archive):
    assert (archive.home / "archive.db").exists()
    assert (os.stat(archive.home).st_mode & 0o777) == 0o700
    assert (os.stat(archive.keys_dir).st_mode & 0o777) == 0o700
    header = (archive.keys_dir / keyfiles.SECRET_FILE).read_bytes()
    assert keyfiles.read_kdf_header(header)[:2] == C.KDF_PROFILES[TEST_KDF]
    assert archive.identity().name == "Test field team"


@pytest.mark.parametrize("kw, match", [
    ({"kdf": "fast"}, "KDF"), ({"name": "   "}, "name"), ({"passphrase": "short"}, "characters"),
    ({"passphrase": "password1234"}, "common"),
])
def test_create_refuses_bad_input_and_writes_nothing(homes, kw, match):
    home, keys_dir = homes
    args = {"name": "Team", "passphrase": TEST_PASSPHRASE, "kdf": TEST_KDF, **kw}
    with pytest.raises(UsageError, match=match):
        Archive.create(home, keys_dir, **args)
    assert not home.exists() and not keys_dir.exists()


def test_create_refuses_an_existing_archive_or_keys(archive, homes, tmp_path):
    home, keys_dir = homes
    with pytest.raises(UsageError, match="already"):
        Archive.create(home, tmp_path / "other-keys", name="X", passphrase=TEST_PASSPHRASE, kdf=TEST_KDF)
    before = (keys_dir / keyfiles.SECRET_FILE).read_bytes()
    with pytest.raises(UsageError, match="already"):
        Archive.create(tmp_path / "other-home", keys_dir, name="X", passphrase=TEST_PASSPHRASE, kdf=TEST_KDF)
    assert (keys_dir / keyfiles.SECRET_FILE).read_bytes() == before


def test_open_something_that_is_not_an_archive(tmp_path):
    with pytest.raises(NotFoundError) as e:
        Archive(tmp_path, tmp_path / "keys")
    assert "init" in e.value.hint


def test_one_process_at_a_time(archive):
    with pytest.raises(LockedError):
        Archive(archive.home, archive.keys_dir)
    archive.close()
    Archive(archive.home, archive.keys_dir).close()


def test_locked_archive_refuses_reads_until_unlocked(archive):
    rid = archive.record(fields={"title": "t"})
    locked = _reopen(archive, unlock=False)
    try:
        for call in (locked.list_records, lambda: locked.show(rid), locked.identity,
                     lambda: locked.record(fields={"title": "x"})):
            with pytest.raises(KeyAccessError):
                call()
        locked.unlock(TEST_PASSPHRASE)
        assert [r.record_id for r in locked.list_records()] == [rid]
    finally:
        locked.close()


def test_unlock_with_the_wrong_passphrase(archive):
    archive.record(fields={"title": "t"})
    locked = _reopen(archive, unlock=False)
    try:
        with pytest.raises(KeyAccessError):
            locked.unlock(TEST_PASSPHRASE + "x")
        with pytest.raises(KeyAccessError):
            locked.list_records()
    finally:
        locked.close()


def test_passphrase_is_normalised_nfc(homes):
    home, keys_dir = homes
    composed = "caf\u00e9 staple violet harbour"
    a = Archive.create(home, keys_dir, name="T", passphrase=composed, kdf=TEST_KDF)
    a.close()
    b = Archive(home, keys_dir)
    try:
        b.unlock(unicodedata.normalize("NFD", composed))
        assert b.identity().name == "T"
    finally:
        b.close()


def test_export_identity(archive, tmp_path):
    out = tmp_path / "me.pub"
    card = archive.export_identity(out)
    assert keyfiles.parse_card(out.read_bytes()) == card == archive.identity()
    with pytest.raises(UsageError, match="already exists"):
        archive.export_identity(out)


# --- recording and reading ----------------------------------------------------------------------

def test_record_show_list_search_verify(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", b"\xff\xd8jpeg")
    rid = archive.record(fields=FIELDS, attachments=[photo])
    assert len(rid) == 64
    view = archive.show(rid[:8])
    assert view.record_id == rid
    assert view.fields == FIELDS
    assert view.attachments == [{"name": "photo.jpg", "media_type": "image/jpeg", "size": 6,
                                 "sha256": hashlib.sha256(b"\xff\xd8jpeg").hexdigest()}]
    assert view.signer == "this archive's own key"
    assert view.author_fingerprint == archive.identity().fingerprint
    assert view.to_json()["signature_valid"] is True
    [summary] = archive.list_records()
    assert (summary.record_id, summary.title, summary.tags, summary.attachments) == (rid, FIELDS["title"], ["clinic"], 1)
    assert archive.list_records(tag="clinic") and not archive.list_records(tag="other")
    for needle in ("REFUSED", "said no", "w-17", "riverside", "photo.JPG", "clinic"):
        assert [r.record_id for r in archive.search(needle)] == [rid], needle
    assert archive.search("not in there") == []
    with pytest.raises(UsageError):
        archive.search("   ")
    report = archive.verify()
    assert report.ok and report.records[0].attachments_checked == 1


def test_record_drops_empty_fields(archive):
    rid = archive.record(fields={"title": "t", "body": "", "tags": [], "location": None})
    assert archive.show(rid).fields == {"title": "t"}


def test_empty_record_is_refused(archive):
    for fields in ({}, {"title": ""}, {"tags": ["x"]}, {"location": "L"}):
        with pytest.raises(UsageError, match="empty"):
            archive.record(fields=fields)
    assert archive.list_records() == []


def test_record_with_a_missing_attachment_writes_nothing(archive, tmp_path):
    before = archive.index.counts()
    with pytest.raises(NotFoundError):
        archive.record(fields={"title": "t"}, attachments=[tmp_path / "absent.jpg"])
    assert archive.index.counts() == before


def test_supersedes_takes_a_prefix(archive):
    old = archive.record(fields={"title": "first"})
    new = archive.record(fields={"title": "corrected"}, supersedes=[old[:10].upper()])
    assert archive.show(new).statement["supersedes"] == [old]
    with pytest.raises(NotFoundError):
        archive.record(fields={"title": "x"}, supersedes=["0" * 64 if not old.startswith("0") else "f" * 64])


def test_same_attachment_twice_stores_only_a_new_envelope(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", os.urandom(3 * 1024 * 1024))
    first = archive.record(fields={"title": "one"}, attachments=[photo])
    objects = archive.index.counts()["objects"]
    second = archive.record(fields={"title": "two"}, attachments=[photo])
    assert first != second
    assert archive.index.counts()["objects"] == objects + 1   # the envelope only
    # `add` of the same bytes later is a duplicate of what `record` stored.
    summary = archive.add([photo])
    assert summary.new == 0 and summary.duplicates == 1
    assert archive.index.counts()["objects"] == objects + 1


def test_add_the_same_bytes_twice_stores_nothing_new(archive, tmp_path):
    f = _file(tmp_path, "scan.pdf", os.urandom(5000))
    archive.add([f])
    counts = archive.index.counts()
    packs = sorted(p.name for p in archive.store.packs_dir.rglob("*") if p.is_file())
    summary = archive.add([f])
    assert (summary.new, summary.duplicates) == (0, 1)
    assert archive.index.counts() == counts
    assert sorted(p.name for p in archive.store.packs_dir.rglob("*") if p.is_file()) == packs


# --- resolve ------------------------------------------------------------------------------------

def _fake_row(archive, record_id: str) -> None:
    archive.index.db.execute("INSERT INTO records (id, envelope, sealed) VALUES (?, ?, ?)",
                             [record_id, b"\0" * 32, b"fake"])


def test_resolve_full_id_and_prefixes(archive):
    rid = archive.record(fields={"title": "t"})
    assert archive.resolve(rid) == rid
    assert archive.resolve(rid[:8]) == rid
    assert archive.resolve(f"  {rid[:12].upper()} ") == rid


@pytest.mark.parametrize("prefix", ["", "abc", "abcdef0", "zzzzzzzz", "abcdefg1", "abcd ef01", "0x123456",
                                    "abcdef01/", "ábcdef01"])
def test_resolve_refuses_what_is_not_a_prefix(archive, prefix):
    archive.record(fields={"title": "t"})
    with pytest.raises(UsageError, match="not a record id"):
        archive.resolve(prefix)


def test_resolve_no_match(archive):
    rid = archive.record(fields={"title": "t"})
    other = ("0" if rid[0] != "0" else "1") + rid[1:8]
    with pytest.raises(NotFoundError, match="no record id starts with"):
        archive.resolve(other)


def test_resolve_ambiguous_prefix(archive):
    rid = archive.record(fields={"title": "t"})
    twin = rid[:8] + ("0" if rid[8] != "0" else "1") + "f" * 55
    _fake_row(archive, twin)
    with pytest.raises(UsageError, match="several") as e:
        archive.resolve(rid[:8])
    assert "more digits" in e.value.hint
    assert archive.resolve(rid[:9]) == rid
    assert archive.resolve(twin[:9]) == twin
    with pytest.raises(UsageError, match="several"):
        archive.show(rid[:8])


# --- extract ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "../../etc/passwd", "/abs", "/etc/passwd", "..", ".", "...", "", "a/../../b", "..\\..\\win",
    "nul\x00byte", "new\nline", "tab\tand\rcr", "\x7fdel", "x" * 1000, "é" * 300, "🙂" * 100,
    ".hidden", "./x", "~/x", "a/b/c",
])
def test_safe_file_name(name):
    safe = safe_file_name(name)
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not any(ord(c) < 32 or c == "\x7f" for c in safe)
    assert not safe.startswith(".")
    assert len(safe.encode("utf-8")) <= 200
    safe.encode("utf-8")


def test_safe_file_name_keeps_ordinary_names():
    for name in ("photo.jpg", "Скан письма.pdf", "report (final).docx", "a b"):
        assert safe_file_name(name) == name


def _record_with_names(archive, monkeypatch, tmp_path, names: list[str]) -> str:
    """A record whose stored attachment names are whatever we choose (as a hostile author could)."""
    real = api.encrypt_attachment
    queue = list(names)

    def named(path, keyer, writer, *, name):
        return real(path, keyer, writer, name=queue.pop(0))
    monkeypatch.setattr(api, "encrypt_attachment", named)
    files = [_file(tmp_path, f"src{i}.bin", f"content {i}".encode()) for i in range(len(names))]
    rid = archive.record(fields={"title": "hostile names"}, attachments=files)
    monkeypatch.setattr(api, "encrypt_attachment", real)
    return rid


HOSTILE = ["../../escape.txt", "/tmp/absolute-escape.txt", "..", ".", "nul\x00name", "new\nline",
           "x" * 600, "sub/dir/file.txt", "..\\..\\win.txt", ""]


def test_extract_never_writes_outside_the_output_folder(archive, monkeypatch, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rid = _record_with_names(archive, monkeypatch, src, HOSTILE)
    root = tmp_path / "deep" / "er"
    out = root / "out"
    before = {p for p in tmp_path.rglob("*")}
    written = archive.extract(rid, out)
    assert len(written) == len(HOSTILE)
    created = {p for p in tmp_path.rglob("*")} - before
    for path in created:
        assert path == out or out in path.parents or path in (root, root.parent)
    for path in written:
        assert path.parent == out and path.is_file() and not path.is_symlink()
    assert not Path("/tmp/absolute-escape.txt").exists() or \
        Path("/tmp/absolute-escape.txt").read_bytes() != b"content 1"
    contents = sorted(p.read_bytes() for p in written)
    assert contents == sorted(f"content {i}".encode() for i in range(len(HOSTILE)))
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_extract_never_overwrites_or_follows_symlinks(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", b"new evidence")
    rid = archive.record(fields={"title": "t"}, attachments=[photo])
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"existing")
    victim = _file(tmp_path, "victim.txt", b"do not touch")
    os.symlink(victim, out / "photo (1).jpg")
    os.symlink(victim, out / ".photo (2).jpg.partial")
    [written] = archive.extract(rid, out)
    assert written.read_bytes() == b"new evidence"
    assert written.name not in ("photo.jpg", "photo (1).jpg", "photo (2).jpg")
    assert (out / "photo.jpg").read_bytes() == b"existing"
    assert victim.read_bytes() == b"do not touch"


def test_extract_twice_keeps_both_copies(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", b"evidence")
    rid = archive.record(fields={"title": "t"}, attachments=[photo])
    out = tmp_path / "out"
    first = archive.extract(rid, out)
    second = archive.extract(rid, out)
    assert first != second
    assert sorted(p.name for p in out.iterdir()) == ["photo (1).jpg", "photo.jpg"]


def test_extract_into_a_file_is_a_usage_error(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", b"evidence")
    rid = archive.record(fields={"title": "t"}, attachments=[photo])
    with pytest.raises(UsageError):
        archive.extract(rid, photo)


def _corrupt_object(archive, object_id: bytes) -> None:
    pack_id, where = archive.index.locate(object_id)
    path = archive.store.pack_path(pack_id)
    raw = bytearray(path.read_bytes())
    raw[where.offset + where.length // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _chunk_ids(archive, rid: str) -> list[bytes]:
    opened = archive._open(rid)
    return [bytes.fromhex(r["id"]) for refs in opened.chunks.values() for r in refs]


def test_extract_of_a_corrupted_chunk_leaves_no_file(archive, tmp_path):
    photo = _file(tmp_path, "photo.jpg", os.urandom(2 * C.CHUNK_SIZE + 10))
    rid = archive.record(fields={"title": "t"}, attachments=[photo])
    _corrupt_object(archive, _chunk_ids(archive, rid)[-1])
    out = tmp_path / "out"
    with pytest.raises(IntegrityError):
        archive.extract(rid, out)
    assert list(out.iterdir()) == []
    report = archive.verify()
    assert not report.ok and report.failed[0].record_id == rid
    assert "attachment" in report.failed[0].problems[0]
    assert not archive.check(read_data=True).ok


def test_corrupted_envelope_is_reported_not_raised_by_verify(archive):
    good = archive.record(fields={"title": "good"})
    bad = archive.record(fields={"title": "bad"})
    _corrupt_object(archive, archive.index.record(bad).envelope_id)
    report = archive.verify()
    assert {r.record_id: r.ok for r in report.records} == {good: True, bad: False}
    with pytest.raises(IntegrityError):
        archive.show(bad)


# --- index tampering ----------------------------------------------------------------------------

def test_swapped_index_metadata_is_detected(archive):
    a = archive.record(fields={"title": "a"})
    b = archive.record(fields={"title": "b"})
    sa, sb = archive.index.record(a).sealed, archive.index.record(b).sealed
    archive.index.db.execute("UPDATE records SET sealed = ? WHERE id = ?", [sb, a])
    archive.index.db.execute("UPDATE records SET sealed = ? WHERE id = ?", [sa, b])
    with pytest.raises(IntegrityError):
        archive.list_records()


def test_index_row_pointing_at_another_records_envelope(archive):
    a = archive.record(fields={"title": "a"})
    b = archive.record(fields={"title": "b"})
    archive.index.db.execute("UPDATE records SET envelope = ? WHERE id = ?",
                             [archive.index.record(b).envelope_id, a])
    with pytest.raises(IntegrityError, match="holds"):
        archive.show(a)
    assert not archive.verify().ok


# --- check and recovery -------------------------------------------------------------------------

def test_check_of_a_healthy_archive(archive, tmp_path):
    archive.record(fields={"title": "t"}, attachments=[_file(tmp_path, "a.bin", b"a" * 5000)])
    for read_data in (False, True):
        report = archive.check(read_data=read_data)
        assert report.ok, report.problems
        assert report.records == 1 and report.packs >= 1 and report.objects >= 2


def test_check_reports_a_missing_pack(archive):
    archive.record(fields={"title": "t"})
    [pack_id] = archive.index.pack_ids()
    os.unlink(archive.store.pack_path(pack_id))
    report = archive.check()
    assert not report.ok
    assert any("missing" in p for p in report.problems)


def test_tmp_leftovers_are_removed_on_open(archive):
    leftover = archive.store.tmp_dir / "0123.pack"
    leftover.write_bytes(C.PACK_MAGIC + b"half a pack")
    writer = archive.store.writer()            # an interrupted write
    writer.add(hashlib.sha256(b"x").digest(), b"x")
    again = _reopen(archive, unlock=False)
    try:
        assert list(again.store.tmp_dir.iterdir()) == []
        assert list(again.store.pack_ids()) == []
    finally:
        again.close()


def test_pack_renamed_but_not_indexed_is_indexed_on_open(archive, tmp_path):
    """A crash after the rename into packs/ and before the index commit."""
    photo = _file(tmp_path, "photo.jpg", os.urandom(4000))
    rid = archive.record(fields=FIELDS, attachments=[photo])
    evidence = archive.add([_file(tmp_path, "scan.pdf", os.urandom(3000))]).new_records[0][1]
    archive.flush_journal()   # the journal's own pack, written on close, is part of the count
    counts = archive.index.counts()
    for table in ("packs", "objects", "records", "dedup"):
        archive.index.db.execute(f"DELETE FROM {table}")
    assert archive.index.counts()["records"] == 0
    again = _reopen(archive, unlock=False)
    try:
        restored = again.index.counts()
        assert restored["packs"] == counts["packs"] and restored["objects"] == counts["objects"]
        again.unlock(TEST_PASSPHRASE)
        assert again.index.counts() == counts
        assert sorted(r.record_id for r in again.list_records()) == sorted([rid, evidence])
        assert again.show(rid[:8]).fields == FIELDS
        [written] = again.extract(rid, tmp_path / "out")
        assert written.read_bytes() == photo.read_bytes()
        assert again.check(read_data=True).ok
        assert again.add([photo]).duplicates == 1   # dedup rows restored too
    finally:
        again.close()


def test_pack_with_a_wrong_name_is_not_trusted_on_open(archive):
    archive.record(fields={"title": "t"})
    [pack_id] = archive.index.pack_ids()
    src = archive.store.pack_path(pack_id)
    fake = "ab" * 32 if not pack_id.startswith("ab") else "cd" * 32
    (archive.store.packs_dir / fake[:2]).mkdir(exist_ok=True)
    (archive.store.packs_dir / fake[:2] / fake).write_bytes(src.read_bytes())
    again = _reopen(archive, unlock=False)
    try:
        assert fake not in again.index.pack_ids()
        report = again.check()
        assert any("does not match its name" in p for p in report.problems)
    finally:
        again.close()


def test_verify_on_an_empty_archive(archive):
    report = archive.verify()
    assert report.ok and report.records == []
    assert archive.check(read_data=True).ok
