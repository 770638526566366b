"""`check --rebuild-index`: a deleted or damaged archive.db is rebuilt from the packs and
the keys — records from their envelopes, and everything only the index knew (peers,
revocations, custody and our log's order, heads, proofs, bundles sent and received,
acknowledgements, settings) from the sealed journal objects in the packs."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from archive import crypto, journal
from archive.api import Archive
from archive.errors import KeyAccessError, NotFoundError
from archive.records import open_envelope

from ..conftest import TEST_PASSPHRASE
from .conftest import assert_error, assert_ok


def _mirrored(site) -> dict[str, list]:
    """Every row of every table only the index knows, as another process reads it."""
    with site.db() as db:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in journal.MIRRORED}


def _story(world):
    """Field records to archive (and one to the lawyer), via the courier; archive acks;
    field sets defaults; archive revokes the lawyer afterwards."""
    with world["field"].open() as f:
        f.set_default_recipients(["archive"])
        rid = f.record(fields={"title": "The night of the raid", "body": "They came at two.\n"})
        f.record(fields={"title": "For the lawyer"}, to=["lawyer"])
        (world.root / "scan.pdf").write_bytes(os.urandom(5000))
        f.add([world.root / "scan.pdf"])
        f.export_bundle(["courier"], world.root / "f-c.tmy")
    with world["courier"].open() as c:
        c.import_bundle(world.root / "f-c.tmy")
        c.export_bundle(["archive"], world.root / "c-a.tmy")
    with world["archive"].open() as a:
        a.import_bundle(world.root / "c-a.tmy")
        a.export_bundle(["courier"], world.root / "a-c.tmy")   # acks what came from the courier
        a.revoke_peer("lawyer")
    return rid


def _records(a: Archive) -> dict[str, tuple]:
    return {r.record_id: (r.kind, r.created, r.title) for r in a.list_records()}


def _slots_hold(a: Archive) -> int:
    """How many records' sealed rows name the stanza our key opens (open_envelope's hint)."""
    held = 0
    for row in a.index.records():
        meta = a.sealer.open(row.record_id, row.sealed)
        assert open_envelope(a._read_object(row.envelope_id), a.keys.box_secret).slot == meta["slot"]
        held += 1
    return held


def test_rebuild_after_the_index_is_deleted_restores_everything(world):
    rid = _story(world)
    site = world["archive"]
    with site.open() as a:
        records, custody = _records(a), a.custody(rid[:12])
        peers = [(p.name, p.role, p.revoked) for p in a.list_peers()]
        assert _slots_hold(a) == len(records)   # imported rows keep which stanza is ours
    before = _mirrored(site)
    for suffix in ("", "-wal", "-shm"):
        (site.home / f"archive.db{suffix}").unlink(missing_ok=True)

    archive, report = Archive.rebuild_index(site.home, site.keys, passphrase=TEST_PASSPHRASE)
    try:
        assert report.moved_aside is None and report.unreadable_packs == []
        assert report.records == len(records) and report.journal_entries > 0
        assert _records(archive) == records
        assert [(s.event.event_id, s.actor) for s in archive.custody(rid[:12]).steps] == \
            [(s.event.event_id, s.actor) for s in custody.steps]
        assert [(p.name, p.role, p.revoked) for p in archive.list_peers()] == peers
        assert _slots_hold(archive) == len(records)   # and so do rebuilt ones
        assert archive.verify().ok and archive.check(read_data=True).ok
        # The same bundle again is recognised as already imported.
        assert archive.import_bundle(world.root / "c-a.tmy").already_imported
    finally:
        archive.close()
    assert _mirrored(site) == before


def test_our_log_keeps_its_order_so_peers_see_no_fork_after_a_rebuild(world):
    """Field's custody log is replayed leaf for leaf: the archive, which holds field's
    earlier tree head, accepts the next bundle's consistency proof."""
    with world["field"].open() as f:
        f.record(fields={"title": "Before"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "1.tmy")
    with world["archive"].open() as a:
        a.import_bundle(world.root / "1.tmy")
    field = world["field"]
    (field.home / "archive.db").unlink()
    archive, _ = Archive.rebuild_index(field.home, field.keys, passphrase=TEST_PASSPHRASE)
    with archive as f:
        later = f.record(fields={"title": "After the rebuild"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "2.tmy")
    with world["archive"].open() as a:
        r = a.import_bundle(world.root / "2.tmy")
        assert r.new_records == 1 and later in _records(a)


def test_a_damaged_index_is_refused_with_the_way_out_then_kept_aside(world):
    site = world["field"]
    with site.open() as f:
        rid = f.record(fields={"title": "Kept"})
    (site.home / "archive.db").write_bytes(b"this is not a database" * 100)
    assert_error(site.run("list"), "damaged")
    assert "--rebuild-index" in site.run("list").stderr
    out = assert_ok(site.run("check", "--rebuild-index")).stdout
    assert "the old index was kept as" in out and "rebuilt the index" in out
    kept = [p for p in site.home.iterdir() if p.name.startswith("archive.db.damaged-")]
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
    assert rid[:16] in assert_ok(site.run("list")).stdout


def test_a_missing_index_names_the_command_that_rebuilds_it(world):
    site = world["field"]
    (site.home / "archive.db").unlink()
    line = assert_error(site.run("list"), "missing")
    assert "index" in line
    assert "testimony check --rebuild-index" in site.run("list").stderr


def test_the_wrong_passphrase_changes_nothing(world):
    site = world["field"]
    before = (site.home / "archive.db").read_bytes()
    with pytest.raises(KeyAccessError):
        Archive.rebuild_index(site.home, site.keys, passphrase="not the passphrase at all 1234")
    assert (site.home / "archive.db").read_bytes() == before
    assert not [p for p in site.home.iterdir() if ".damaged-" in p.name]


def test_not_an_archive_is_refused(tmp_path):
    with pytest.raises(NotFoundError, match="no packs/ folder"):
        Archive.rebuild_index(tmp_path, tmp_path / "keys", passphrase=TEST_PASSPHRASE)


def test_a_tampered_journal_pack_is_left_out_and_reported(world):
    site = world["field"]
    with site.open() as f:
        f.record(fields={"title": "Still here"})
    with site.db() as db:
        pack = db.execute("SELECT pack FROM objects WHERE kind = 'journal' LIMIT 1").fetchone()[0]
    path = site.home / "packs" / pack[:2] / pack
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))
    (site.home / "archive.db").unlink()
    r = site.run("check", "--rebuild-index")
    assert r.exit_code == 1 and "Traceback" not in r.stdout + r.stderr
    assert f"pack {pack[:16]} is damaged" in r.stdout
    assert "Still here" in assert_ok(site.run("list")).stdout


def test_a_journal_written_twice_replays_once(world):
    """A crash after the journal pack is durable and before its entries are dropped
    writes them again on the next open: replaying both copies gives the same index."""
    site = world["archive"]
    with site.open() as a:
        a.set_default_recipients(["lawyer"])
        assert a.index.journal_last() is not None
        # The pack a crashed flush left behind; its entries stay pending, to be written again.
        writer = a.store.writer()
        entries = b"".join(journal.pending(a.index.db, a.index.journal_last()))
        data = journal.seal(a.keys.index_key, entries)
        writer.add(crypto.sha256(data), data)
        writer.close()
    before = _mirrored(site)
    (site.home / "archive.db").unlink()
    archive, report = Archive.rebuild_index(site.home, site.keys, passphrase=TEST_PASSPHRASE)
    archive.close()
    assert _mirrored(site) == before
    with site.open() as a:
        assert a.default_recipients() == ["lawyer"]


def test_json_report(world):
    site = world["courier"]
    (site.home / "archive.db").unlink()
    out = json.loads(assert_ok(site.run("check", "--rebuild-index", "--json")).stdout)
    assert out["ok"] is True and out["rebuilt"]["journal_entries"] > 0
    assert out["rebuilt"]["moved_aside"] is None and out["rebuilt"]["unreadable_packs"] == []


def test_journal_objects_are_sealed(world):
    """Peer names and roles are in the journal only under the index key."""
    site = world["field"]
    with site.open() as f:
        f.set_default_recipients(["archive"])
    for pack in (site.home / "packs").glob("*/*"):
        data = pack.read_bytes()
        assert b"archivist" not in data and b"courier" not in data
    with site.db() as db:
        assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    with sqlite3.connect(site.home / "archive.db") as db:
        kinds = {r[0] for r in db.execute("SELECT kind FROM objects")}
    assert "journal" in kinds


def test_a_planted_journal_object_fails_the_rebuild_with_one_line(world):
    """A correctly named pack holding a journal object not sealed under our index key
    (someone else's, or forged): the rebuild refuses to replay anything from it."""
    from archive import constants as C
    from archive.store import Store
    site = world["field"]
    writer = Store(site.home).writer()
    forged = C.JOURNAL_MAGIC + os.urandom(24 + 200)
    writer.add(crypto.sha256(forged), forged)
    writer.close()
    (site.home / "archive.db").unlink()
    line = assert_error(site.run("check", "--rebuild-index"), "journal object failed authentication")
    assert "Traceback" not in line


def test_a_leftover_import_journal_never_deletes_packs_during_a_rebuild(world):
    """A crash between an import's commit and the removal of its list of staged packs,
    then the index lost: a new index has none of those packs, and deleting them (what the
    list means on a normal open) would lose a committed import. They are adopted."""
    with world["field"].open() as f:
        rid = f.record(fields={"title": "Carried"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "b.tmy")
    site = world["archive"]
    with site.open() as a:
        a.import_bundle(world.root / "b.tmy")
        with site.db() as db:
            packs = [r[0] for r in db.execute("SELECT DISTINCT pack FROM objects WHERE kind != 'journal'")]
    a.store.begin_staged(packs)            # as if the crash came right after the commit
    (site.home / "archive.db").unlink()
    archive, report = Archive.rebuild_index(site.home, site.keys, passphrase=TEST_PASSPHRASE)
    with archive:
        assert rid in _records(archive)
        assert archive.check(read_data=True).ok
    assert all((site.home / "packs" / p[:2] / p).exists() for p in packs)
    assert not (site.home / "import.pending").exists()


def test_a_disk_that_refuses_the_flush_only_postpones_it(world, monkeypatch):
    """Reading an archive on a full or read-only disk still works; the journal entries
    wait in the index and are mirrored by the next command that can write."""
    import errno
    site = world["field"]
    with site.open() as f:
        f.set_default_recipients(["archive"])
        real_flush = journal.flush

        def refused(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(journal, "flush", refused)
        f.set_default_recipients(["lawyer"])
    assert_ok(site.run("list"))     # another process, on a disk that can write again
    monkeypatch.setattr(journal, "flush", real_flush)
    with site.db() as db:
        assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    (site.home / "archive.db").unlink()
    archive, _ = Archive.rebuild_index(site.home, site.keys, passphrase=TEST_PASSPHRASE)
    with archive:
        assert archive.default_recipients() == ["lawyer"]


def test_a_flush_that_fails_for_another_reason_is_not_hidden(world, monkeypatch):
    site = world["field"]
    monkeypatch.setattr(journal, "flush", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        with site.open():
            pass

