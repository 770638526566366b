"""The store or the index changed behind our back: `verify` and `check` say exactly what
is wrong (exit 1, naming the record, attachment, pack or object), and every other
command fails with one clear line rather than a traceback or a silent wrong answer."""

from __future__ import annotations

import json
import os

import pytest

from .helpers import CliHome, assert_error, assert_ok, flip_byte


@pytest.fixture
def filled(archive_home: CliHome, tmp_path):
    """A testimony with a 2.5 MB attachment (3 chunks) and one evidence file: two packs."""
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(os.urandom(2_500_000))
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"photo of the clinic door")
    h = archive_home
    h.testimony = assert_ok(h.main("record", "--title", "Refusal", "--attach", str(letter))).stdout.strip()
    h.evidence = json.loads(assert_ok(h.main("add", str(photo), "--json")).stdout)["records"][0]["id"]
    h.letter = letter
    assert len(h.packs()) == 2
    return h


def _letter_chunk(h: CliHome):
    """(id, pack, offset, length, kind) of one of the letter's 1 MiB chunk objects."""
    return max(h.objects("chunk"), key=lambda o: o[3])


def _envelope_of(h: CliHome, record_id: str):
    with h.db() as db:
        env_id = db.execute("SELECT envelope FROM records WHERE id = ?", [record_id]).fetchone()[0]
    return next(o for o in h.objects() if o[0] == env_id)


def _verify_lines(r) -> list[str]:
    return [l for l in r.stdout.splitlines() if l.startswith("FAILED")]


# --- the store --------------------------------------------------------------------------------

def test_flipped_byte_in_evidence_chunk(filled: CliHome, tmp_path):
    obj_id, pack, offset, length, _ = _letter_chunk(filled)
    flip_byte(filled.pack_path(pack), offset + length // 2)

    r = filled.main("verify")
    assert r.exit_code == 1 and "Traceback" not in r.output
    [line] = _verify_lines(r)
    assert line.startswith(f"FAILED  {filled.testimony[:16]}  attachment 'letter.pdf': ")
    assert f"object {obj_id.hex()[:16]} in pack {pack[:16]} does not match its id" in line
    assert r.stdout.splitlines()[-1] == "1 of 2 records verified; 1 FAILED"
    report = json.loads(filled.main("verify", "--json").stdout)
    assert (report["ok"], report["failed"]) == (False, 1)

    r = filled.main("check", "--read-data")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"PROBLEM  object {obj_id.hex()[:16]} in pack {pack[:16]} does not match its id" in r.stdout
    assert r.stdout.rstrip().endswith("problem(s)")
    report = json.loads(filled.main("check", "--read-data", "--json").stdout)
    assert report["ok"] is False and any(obj_id.hex()[:16] in p for p in report["problems"])

    # The record itself still opens; its files are refused, and nothing half-made is left.
    assert_ok(filled.main("show", filled.testimony))
    out = tmp_path / "out"
    assert_error(filled.main("extract", filled.testimony, "--out", str(out)), "does not match its id")
    assert list(out.iterdir()) == []
    # The other record is untouched.
    assert_ok(filled.main("verify", filled.evidence[:8]))


def test_flipped_byte_in_envelope(filled: CliHome):
    env_id, pack, offset, length, _ = _envelope_of(filled, filled.evidence)
    flip_byte(filled.pack_path(pack), offset + 100)
    r = filled.main("verify")
    assert r.exit_code == 1 and "Traceback" not in r.output
    [line] = _verify_lines(r)
    assert line.startswith(f"FAILED  {filled.evidence[:16]}  ")
    assert f"object {env_id.hex()[:16]} in pack {pack[:16]} does not match its id" in line
    assert_error(filled.main("show", filled.evidence), "does not match its id")
    r = filled.main("check", "--read-data")
    assert r.exit_code == 1
    assert f"object {env_id.hex()[:16]} in pack {pack[:16]}" in r.stdout


def test_deleted_pack(filled: CliHome):
    _, pack, *_ = _letter_chunk(filled)
    lost = len([o for o in filled.objects() if o[1] == pack])
    filled.pack_path(pack).unlink()
    r = filled.main("check", drop=("TESTIMONY_PASSPHRASE",))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert (f"PROBLEM  pack {pack[:16]} is in the index but missing from the store "
            f"({lost} objects lost)") in r.stdout
    r = filled.main("verify")
    assert r.exit_code == 1
    [line] = _verify_lines(r)
    assert line.startswith(f"FAILED  {filled.testimony[:16]}") and f"pack {pack[:16]} is missing" in line
    assert_error(filled.main("show", filled.testimony), f"pack {pack[:16]} is missing from the store")


@pytest.mark.parametrize("keep", [10, 1000, -1])
def test_truncated_pack(filled: CliHome, keep: int):
    _, pack, *_ = _letter_chunk(filled)
    path = filled.pack_path(pack)
    size = path.stat().st_size
    os.truncate(path, keep if keep >= 0 else size + keep)
    r = filled.main("check")
    assert r.exit_code == 1 and "Traceback" not in r.output
    problems = [l for l in r.stdout.splitlines() if l.startswith("PROBLEM")]
    assert problems and all(pack[:16] in p for p in problems), r.stdout
    assert any(w in problems[0] for w in ("truncated", "past its end", "magic")), problems
    r = filled.main("verify")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert _verify_lines(r)[0].startswith(f"FAILED  {filled.testimony[:16]}")


def test_pack_replaced_by_another(filled: CliHome):
    packs = filled.packs()
    packs[0].write_bytes(packs[1].read_bytes())
    r = filled.main("check")
    assert r.exit_code == 1
    assert f"PROBLEM  pack {packs[0].name[:16]} does not match its name" in r.stdout


def test_stray_file_in_tmp_is_removed_on_open(filled: CliHome):
    (filled.home / "tmp" / "deadbeef.pack").write_bytes(b"TESTIMONY-PACK-1\nhalf an entry")
    assert_ok(filled.main("check"))
    assert filled.tmp_files() == []


# --- the index ---------------------------------------------------------------------------------

def test_deleted_record_row_is_restored_from_the_packs(filled: CliHome):
    # The packs are the truth: an envelope with no record row is indexed again on unlock.
    with filled.db() as db:
        db.execute("DELETE FROM records WHERE id = ?", [filled.testimony])
    r = assert_ok(filled.main("check", drop=("TESTIMONY_PASSPHRASE",)))
    assert ", 1 records" in r.stdout  # what the index says before unlocking
    rows = json.loads(assert_ok(filled.main("list", "--json")).stdout)
    assert sorted(x["id"] for x in rows) == sorted([filled.testimony, filled.evidence])
    assert_ok(filled.main("verify"))


def test_deleted_object_row(filled: CliHome):
    obj_id, pack, *_ = _letter_chunk(filled)
    with filled.db() as db:
        db.execute("DELETE FROM objects WHERE id = ?", [obj_id])
    r = filled.main("check")
    assert r.exit_code == 1
    assert f"PROBLEM  pack {pack[:16]} does not hold what the index says" in r.stdout
    r = filled.main("verify")
    assert r.exit_code == 1 and "Traceback" not in r.output
    [line] = _verify_lines(r)
    assert line.startswith(f"FAILED  {filled.testimony[:16]}  attachment 'letter.pdf'")
    assert obj_id.hex()[:16] in line
    r = filled.main("check", "--read-data")
    assert r.exit_code == 1
    assert f"record {filled.testimony[:16]}: 1 of 3 evidence chunks are missing" in r.stdout


@pytest.mark.parametrize("damage", ["flip", "empty", "short", "swap"])
def test_damaged_sealed_metadata(filled: CliHome, damage: str):
    with filled.db() as db:
        rows = dict(db.execute("SELECT id, sealed FROM records"))
        sealed = bytearray(rows[filled.testimony])
        new = {"flip": lambda: bytes(sealed[:-5]) + bytes([sealed[-5] ^ 1]) + bytes(sealed[-4:]),
               "empty": lambda: b"",
               "short": lambda: bytes(sealed[:10]),
               "swap": lambda: rows[filled.evidence]}[damage]()
        db.execute("UPDATE records SET sealed = ? WHERE id = ?", [new, filled.testimony])
    for command in (["list"], ["list", "--json"], ["search", "refusal"]):
        assert_error(filled.main(*command), filled.testimony[:16], "failed authentication")
    # `check --read-data` finds it too, naming the record.
    r = filled.main("check", "--read-data")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert filled.testimony[:16] in "\n".join(l for l in r.stdout.splitlines() if l.startswith("PROBLEM"))
    # The record itself is intact: its envelope still opens and verifies.
    assert_ok(filled.main("show", filled.testimony))


def test_record_row_pointing_at_nothing(filled: CliHome):
    with filled.db() as db:
        db.execute("UPDATE records SET envelope = ? WHERE id = ?", [b"\x07" * 32, filled.evidence])
    r = filled.main("check")
    assert r.exit_code == 1
    assert "PROBLEM  1 of 2 records have no envelope in the store" in r.stdout
    assert_error(filled.main("show", filled.evidence), "missing from the index")
    r = filled.main("verify")
    assert r.exit_code == 1
    assert _verify_lines(r)[0].startswith(f"FAILED  {filled.evidence[:16]}")
