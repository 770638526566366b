"""Named attacks on the index (archive.db) and the archive folder: whoever can write to
the archive (a tampered stick, a seized laptop given back) must not make us show one
record as another, allocate what a row claims, or delete files outside the archive."""

from __future__ import annotations

import os
import resource

from ..cli.helpers import CliHome, assert_error, assert_ok

ONE_GIB = 1 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ONE_GIB, ONE_GIB))


def _two_records(h: CliHome) -> tuple[str, str]:
    a = assert_ok(h.main("record", "--title", "Record A", "--witness", "W-A")).stdout.strip()
    b = assert_ok(h.main("record", "--title", "Record B", "--witness", "W-B")).stdout.strip()
    return a, b


def test_swapped_envelope_rows(archive_home: CliHome):
    a, b = _two_records(archive_home)
    with archive_home.db() as db:
        env = dict(db.execute("SELECT id, envelope FROM records"))
        db.execute("UPDATE records SET envelope = ? WHERE id = ?", [env[b], a])
        db.execute("UPDATE records SET envelope = ? WHERE id = ?", [env[a], b])
    # `show A` must not silently print B.
    line = assert_error(archive_home.main("show", a), f"indexed as record {a[:16]}", f"holds record {b[:16]}")
    assert "Record B" not in line
    assert_error(archive_home.main("show", b, "--json"), f"holds record {a[:16]}")
    r = archive_home.main("verify")
    assert r.exit_code == 1 and "Traceback" not in r.output
    failed = [l for l in r.stdout.splitlines() if l.startswith("FAILED")]
    assert len(failed) == 2 and r.stdout.splitlines()[-1] == "0 of 2 records verified; 2 FAILED"
    assert_error(archive_home.main("extract", a, "--out", str(archive_home.root / "o")), "holds record")
    r = archive_home.main("check", "--read-data")
    assert r.exit_code == 1 and f"record {a[:16]}" in r.stdout and f"record {b[:16]}" in r.stdout


def test_row_renamed_to_another_id(archive_home: CliHome):
    a, _ = _two_records(archive_home)
    forged = ("0" if a[0] != "0" else "1") + a[1:]
    with archive_home.db() as db:
        db.execute("UPDATE records SET id = ? WHERE id = ?", [forged, a])
    assert_error(archive_home.main("show", forged), f"indexed as record {forged[:16]}", f"holds record {a[:16]}")
    # Its sealed metadata is bound to the real id: list refuses rather than mislabel it.
    assert_error(archive_home.main("list"), forged[:16], "failed authentication")


def test_index_object_length_claims_gigabytes(archive_home: CliHome):
    a, _ = _two_records(archive_home)
    with archive_home.db() as db:
        db.execute("UPDATE objects SET length = ?", [0x7FFF_FFFF])
    r = archive_home.run("show", a, preexec_fn=_limit_memory)
    assert_error(r, "the index claims object", "2147483647 bytes")
    r = archive_home.run("verify", preexec_fn=_limit_memory)
    assert r.exit_code == 1 and "Traceback" not in r.output and "MemoryError" not in r.output
    r = archive_home.main("check")
    assert r.exit_code == 1 and "does not hold what the index says" in r.stdout


def test_index_object_negative_offset(archive_home: CliHome):
    a, _ = _two_records(archive_home)
    with archive_home.db() as db:
        db.execute("UPDATE objects SET offset = -5")
    assert_error(archive_home.main("show", a), "the index claims object")


def test_tmp_replaced_by_symlink_deletes_nothing_outside(archive_home: CliHome, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("three years of work")
    tmp = archive_home.home / "tmp"
    os.rmdir(tmp)
    tmp.symlink_to(precious)
    assert_error(archive_home.main("list"), f"{tmp} is not a plain folder; nothing was removed",
                 hint="create an empty tmp/")
    assert (precious / "thesis.txt").read_text() == "three years of work"


def test_folder_planted_in_tmp_is_a_clear_error(archive_home: CliHome):
    (archive_home.home / "tmp" / "planted").mkdir()
    assert_error(archive_home.main("check"), "planted is a folder, which testimony never writes in tmp/")

