"""archive.index: the SQLite index, its migrations, and the sealing of cached metadata."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from archive import constants as C
from archive import crypto, journal
from archive.errors import FormatError, IntegrityError, NotFoundError, UsageError
from archive.index import DB_FILE, MIGRATIONS, Index
from archive.sealedrows import MetaSealer, RecordRow
from archive.store import ClosedPack, Located


@pytest.fixture
def index(tmp_path):
    idx = Index.create(tmp_path)
    yield idx
    idx.close()


def _pack(n: int, *, start: int = 0, pack_id: str = "aa" * 32) -> ClosedPack:
    entries = [Located(bytes([i % 256, i // 256]) + bytes(30), 17 + 100 * i, 64) for i in range(start, start + n)]
    return ClosedPack(pack_id, 17 + 100 * n, entries)


def test_open_without_archive_is_not_found(tmp_path):
    with pytest.raises(NotFoundError) as e:
        Index(tmp_path)
    assert "init" in e.value.hint


def test_create_is_private_and_at_the_current_schema(tmp_path, index):
    assert stat.S_IMODE(os.stat(tmp_path / DB_FILE).st_mode) == 0o600
    assert index.schema_version() == len(MIGRATIONS)
    assert {"meta", "packs", "objects", "records", "dedup"} <= set(index.db.table_names())
    assert index.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert index.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_schema_version_constant_matches_the_migrations():
    assert C.INDEX_SCHEMA_VERSION == len(MIGRATIONS)


def test_create_refuses_an_existing_index(tmp_path, index):
    with pytest.raises(FileExistsError):
        Index.create(tmp_path)


def test_reopen_does_not_migrate_again(tmp_path, index):
    index.commit_pack(_pack(1), kinds={}, records=[], dedup=[])
    index.close()
    again = Index(tmp_path)
    try:
        assert again.schema_version() == len(MIGRATIONS)
        assert again.counts()["objects"] == 1
    finally:
        again.close()


def test_newer_schema_is_refused(tmp_path, index):
    index.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    index.close()
    with pytest.raises(UsageError, match="newer") as e:
        Index(tmp_path)
    assert "upgrade" in e.value.hint


def test_damaged_index_is_a_format_error_with_a_hint(tmp_path):
    (tmp_path / DB_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(FormatError) as e:
        Index(tmp_path)
    assert "--rebuild-index" in e.value.hint and "packs" in e.value.hint


def test_commit_pack_and_locate(index):
    pack = _pack(3)
    kinds = {pack.entries[0].object_id: "envelope"}
    index.commit_pack(pack, kinds=kinds, records=[], dedup=[])
    assert index.pack_ids() == {pack.pack_id}
    where = index.locate(pack.entries[1].object_id)
    assert where == (pack.pack_id, pack.entries[1])
    assert index.locate(bytes(32) + b"x") is None
    assert index.objects_in(pack.pack_id) == pack.entries
    assert index.counts() == {"packs": 1, "objects": 3, "records": 0, "dedup": 0}
    assert index.envelopes_without_record() == [pack.entries[0].object_id]
    kinds_in_db = dict(index.db.execute("SELECT id, kind FROM objects").fetchall())
    assert kinds_in_db[pack.entries[0].object_id] == "envelope"
    assert kinds_in_db[pack.entries[2].object_id] == "unknown"


def test_commit_pack_twice_is_harmless(index):
    pack = _pack(2)
    for _ in range(2):
        index.commit_pack(pack, kinds={}, records=[RecordRow("ab" * 32, pack.entries[0].object_id, b"s")],
                          dedup=[(b"m" * 32, "ab" * 32)])
    assert index.counts() == {"packs": 1, "objects": 2, "records": 1, "dedup": 1}


def test_an_object_already_indexed_keeps_its_first_location(index):
    index.commit_pack(_pack(1, pack_id="aa" * 32), kinds={}, records=[], dedup=[])
    index.commit_pack(_pack(1, pack_id="bb" * 32), kinds={}, records=[], dedup=[])
    assert index.locate(_pack(1).entries[0].object_id)[0] == "aa" * 32


def test_has_objects_in_batches(index):
    pack = _pack(1200)
    index.commit_pack(pack, kinds={}, records=[], dedup=[])
    wanted = [e.object_id for e in pack.entries[::2]] + [b"\xff" * 32]
    assert index.has_objects(wanted) == set(wanted[:-1])
    assert index.has_objects([]) == set()


def test_records_and_prefixes(index):
    env = _pack(1).entries[0].object_id
    ids = ["abcdef01" + "0" * 56, "abcdef01" + "1" * 56, "abcdef02" + "0" * 56, "0bcdef01" + "f" * 56]
    index.add_records([RecordRow(i, env, b"sealed") for i in ids], [(b"m" * 32, ids[0])])
    assert [r.record_id for r in index.records()] == sorted(ids)
    assert index.record(ids[2]) == RecordRow(ids[2], env, b"sealed")
    assert index.record("ff" * 32) is None
    assert sorted(index.record_ids_with_prefix("abcdef01")) == ids[:2]
    assert index.record_ids_with_prefix("abcdef02") == [ids[2]]
    assert index.record_ids_with_prefix("abcdef03") == []
    assert index.record_ids_with_prefix(ids[3]) == [ids[3]]
    assert len(index.record_ids_with_prefix("abcdef0")) == 2   # at most two: enough to say "ambiguous"
    assert index.dedup_record(b"m" * 32) == ids[0]
    assert index.dedup_record(b"n" * 32) is None
    assert index.dedup_macs() == {b"m" * 32}


def test_add_records_is_one_transaction(index):
    env = _pack(1).entries[0].object_id
    rows = [RecordRow("aa" * 32, env, b"s")]
    with pytest.raises(sqlite3.Error):
        index.add_records(rows, [(b"m" * 32, "aa" * 32), (object(), "bb" * 32)])  # cannot be bound
    assert index.counts()["records"] == 0 and index.counts()["dedup"] == 0


# --- MetaSealer ---------------------------------------------------------------------------------

META = {"kind": "testimony", "fields": {"title": "Refused", "tags": ["clinic"]}, "attachments": []}
RID = "ab" * 32


def test_meta_round_trip_and_randomised():
    sealer = MetaSealer(bytes(range(32)))
    a, b = sealer.seal(RID, META), sealer.seal(RID, META)
    assert a != b
    assert sealer.open(RID, a) == META == sealer.open(RID, b)
    assert b"Refused" not in a and b"clinic" not in a


def test_meta_is_bound_to_its_record_id():
    """Swapping sealed metadata between two rows is detected (AAD = record id)."""
    sealer = MetaSealer(bytes(range(32)))
    sealed = sealer.seal(RID, META)
    with pytest.raises(IntegrityError):
        sealer.open("cd" * 32, sealed)


def test_meta_needs_the_right_index_key():
    sealed = MetaSealer(bytes(range(32))).seal(RID, META)
    with pytest.raises(IntegrityError):
        MetaSealer(bytes(32)).open(RID, sealed)


def test_meta_tampered_or_truncated_is_integrity_error():
    sealer = MetaSealer(bytes(range(32)))
    sealed = sealer.seal(RID, META)
    for bad in (sealed[:-1], sealed[:40], sealed[:39], sealed[:24], sealed[:10], b"",
                sealed[:30] + bytes([sealed[30] ^ 1]) + sealed[31:]):
        with pytest.raises(IntegrityError):
            sealer.open(RID, bad)


def test_meta_keys_are_derived_and_separated():
    index_key = bytes(range(32))
    sealer = MetaSealer(index_key)
    sha = hashlib.sha256(b"file").digest()
    mac = sealer.dedup_mac(sha)
    dedup_key = crypto.derive_key(index_key, C.INDEX_DEDUP)
    assert mac == crypto.keyed_hash(dedup_key, C.INDEX_DEDUP, sha)
    assert mac != sha and mac == sealer.dedup_mac(sha)
    assert MetaSealer(bytes(32)).dedup_mac(sha) != mac
    # The metadata key is not the dedup key, and neither is the raw index key.
    meta_key = crypto.derive_key(index_key, C.INDEX_META)
    assert len({meta_key, dedup_key, index_key}) == 3
    n = C.XCHACHA_NONCE_BYTES
    sealed = sealer.seal(RID, META)
    crypto.xchacha_decrypt(meta_key, sealed[:n], sealed[n:], aad=RID.encode(), what="meta")


# --- nothing readable in the index ---------------------------------------------------------------

SENSITIVE = {
    "title": "Quarantined-Ward-Refusal",
    "body": "The nurse Zhanar said the order came from Colonel Berikbol.",
    "tags": ["hospital-refusal-tag"],
    "witness": {"pseudonym": "Witness-Aigerim-17", "consent": "legal"},
    "location": "Kyzylorda-District-Clinic",
    "language": "kk",
}


def _needles(extra_files):
    needles = [SENSITIVE["title"], "Zhanar", "Berikbol", "hospital-refusal-tag", "Witness-Aigerim-17",
               "Kyzylorda-District-Clinic", "Test field team", "photo-of-order.jpg", "scan-of-letter.pdf"]
    out = []
    for n in needles:
        out += [n.encode("utf-8"), n.encode("utf-16-le")]
    for data in extra_files:
        sha = hashlib.sha256(data).digest()
        out += [sha, sha.hex().encode()]
    return out


def _db_bytes(home) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.name.startswith(DB_FILE))


def test_no_plaintext_in_the_index_files(archive, tmp_path):
    photo, letter = tmp_path / "photo-of-order.jpg", tmp_path / "scan-of-letter.pdf"
    photo.write_bytes(b"\xff\xd8 fake jpeg of the order " * 50)
    letter.write_bytes(b"%PDF fake letter " * 70)
    archive.record(fields=SENSITIVE, attachments=[photo])
    archive.add([letter], tags=["hospital-refusal-tag"])
    assert archive.search("berikbol")  # the data is there, sealed
    needles = _needles([photo.read_bytes(), letter.read_bytes()])
    while_open = _db_bytes(archive.home)
    assert while_open
    found = [n for n in needles if n in while_open]
    assert found == []
    home = archive.home
    archive.close()
    after = _db_bytes(home)
    assert [n for n in needles if n in after] == []


def test_no_plaintext_anywhere_under_home_or_keys(archive, tmp_path):
    photo = tmp_path / "photo-of-order.jpg"
    photo.write_bytes(b"\xff\xd8 fake jpeg of the order " * 50)
    archive.record(fields=SENSITIVE, attachments=[photo])
    home, keys = archive.home, archive.keys_dir
    archive.close()
    needles = _needles([photo.read_bytes()]) + [b"fake jpeg of the order"]
    for folder in (home, keys):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert [n for n in needles if n in data] == [], path


def test_migrating_an_index_made_before_the_journal_journals_what_it_already_holds(tmp_path):
    """Version 3 → 4: rows that exist before the triggers do are journaled once, so a
    rebuild of an upgraded archive loses none of them."""
    import sqlite_utils
    db = sqlite_utils.Database(sqlite3.connect(tmp_path / DB_FILE, isolation_level=None))
    for step in MIGRATIONS[:3]:
        step(db)
    db["meta"].upsert({"key": "schema_version", "value": "3"}, pk="key")
    db["peers"].insert({"id": "ab" * 32, "sealed": b"\x01\x02"})
    db["custody"].insert({"id": b"\x07" * 32, "envelope": b"\x08" * 32, "sealed": b"\x09"})
    db.conn.close()
    index = Index(tmp_path)
    try:
        assert index.schema_version() == 4
        entries = [journal._decode(e) for e in journal.pending(index.db, index.journal_last())]
        assert [next(e)[1:] for e in entries] == [
            ("peers", 0, ["ab" * 32, b"\x01\x02"]),
            ("custody", 0, [b"\x07" * 32, b"\x08" * 32, b"\x09"])]
        index.db["settings"].insert({"key": "k", "sealed": b"\xff"})   # and later changes too
        index.db.execute("DELETE FROM peers")
        last = [next(journal._decode(e))[1:] for e in journal.pending(index.db, index.journal_last())]
        assert ("settings", 0, ["k", b"\xff"]) in last and ("peers", 1, ["ab" * 32]) in last
        assert ("peers", 0, ["ab" * 32, b"\x01\x02"]) not in last   # deleted since: not mirrored
    finally:
        index.close()
