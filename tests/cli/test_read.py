"""Reading: `list`, `show`, `search` (text and --json), `extract`, `identity show|export`,
`verify` and `check` --json. One archive is shared by the module (they only read it)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from archive.keys import parse_card
from .helpers import HEX64, CliHome, assert_error, assert_ok

SUMMARY_KEYS = {"id", "kind", "created", "title", "tags", "author", "author_fingerprint", "attachments"}
VIEW_KEYS = {"id", "kind", "created", "author", "author_fingerprint", "signer", "signature_valid",
             "supersedes", "fields", "attachments"}
ATTACHMENT_KEYS = {"name", "media_type", "size", "sha256"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Two testimonies (one with two attachments) and two evidence files (a third is a duplicate)."""
    h = CliHome(tmp_path_factory.mktemp("read")).create("Almaty field team")
    files = h.root / "files"
    (files / "stick").mkdir(parents=True)
    letter = files / "letter.pdf"
    letter.write_bytes(b"%PDF-1.4 refusal letter " + os.urandom(3_000_000))  # several chunks
    photo = files / "door.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo of the door")
    (files / "stick" / "receipt.png").write_bytes(b"\x89PNG receipt")
    (files / "stick" / "notes.txt").write_bytes(b"notes taken at the scene")
    (files / "stick" / "door-copy.jpg").write_bytes(photo.read_bytes())
    text = files / "t1.txt"
    text.write_text("title: Refused at the district hospital\ntags: hospital-refusal, almaty\n"
                    "witness: W-17\nconsent: legal\nlocation: Almaty\n---\n"
                    "The nurse said they had orders from the akimat.\n")
    t1 = assert_ok(h.main("record", "--text-file", str(text), "--attach", str(letter),
                          "--attach", str(photo))).stdout.strip()
    t2 = assert_ok(h.main("record", "--title", "Statement taken at the station", "--tag", "police",
                          "--text-file", "-", input=b"He signed after six hours.\n")).stdout.strip()
    added = json.loads(assert_ok(h.main("add", str(files / "stick"), "--tag", "evidence-batch",
                                        "--json")).stdout)
    # The copy of the door photo is already stored, as an attachment of t1.
    assert added["duplicate_files"] == [{"name": "stick/door-copy.jpg", "id": t1}]
    h.ids = {"t1": t1, "t2": t2, **{x["name"]: x["id"] for x in added["records"]}}
    h.files = {"letter": letter, "photo": photo}
    return h


def test_list_text(shared: CliHome):
    r = assert_ok(shared.main("list"))
    lines = r.stdout.splitlines()
    assert lines[-1] == "4 records"
    t1_line = next(l for l in lines if l.startswith(shared.ids["t1"][:16]))
    assert "testimony" in t1_line and "Refused at the district hospital" in t1_line
    assert "[almaty, hospital-refusal]" in t1_line and "(2 files)" in t1_line


def test_list_json(shared: CliHome):
    rows = json.loads(assert_ok(shared.main("list", "--json")).stdout)
    assert len(rows) == 4
    for row in rows:
        assert set(row) >= SUMMARY_KEYS
        assert HEX64.fullmatch(row["id"]) and HEX64.fullmatch(row["author_fingerprint"])
        assert row["author"] == "Almaty field team"
    assert [r["created"] for r in rows] == sorted(r["created"] for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id[shared.ids["t1"]]["attachments"] == 2
    assert by_id[shared.ids["t2"]]["tags"] == ["police"]
    assert {r["kind"] for r in rows} == {"testimony", "evidence"}


def test_list_by_tag(shared: CliHome):
    rows = json.loads(assert_ok(shared.main("list", "--tag", "evidence-batch", "--json")).stdout)
    assert sorted(r["title"] for r in rows) == ["stick/notes.txt", "stick/receipt.png"]
    assert assert_ok(shared.main("list", "--tag", "no-such-tag")).stdout == "no records\n"
    assert json.loads(assert_ok(shared.main("list", "--tag", "no-such-tag", "--json")).stdout) == []


def test_show_text(shared: CliHome):
    r = assert_ok(shared.main("show", shared.ids["t1"][:8]))
    out = r.stdout
    assert f"Record:    {shared.ids['t1']}" in out
    assert "Kind:      testimony" in out
    assert "Title:     Refused at the district hospital" in out
    assert "Witness:   W-17 (consent: legal)" in out
    assert "Tags:      almaty, hospital-refusal" in out
    assert "signature valid" in out and "this archive's own key" in out
    assert "File:      letter.pdf" in out and "File:      door.jpg" in out
    assert out.rstrip().endswith("The nurse said they had orders from the akimat.")


def test_show_json(shared: CliHome):
    view = json.loads(assert_ok(shared.main("show", shared.ids["t1"], "--json")).stdout)
    assert set(view) >= VIEW_KEYS
    assert view["id"] == shared.ids["t1"] and view["signature_valid"] is True
    assert set(view["fields"]) == {"title", "tags", "witness", "location", "body"}
    assert len(view["attachments"]) == 2
    for a in view["attachments"]:
        assert set(a) == ATTACHMENT_KEYS
    letter = next(a for a in view["attachments"] if a["name"] == "letter.pdf")
    data = shared.files["letter"].read_bytes()
    assert letter == {"name": "letter.pdf", "media_type": "application/pdf", "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("needle, expected", [
    ("district HOSPITAL", ["t1"]),              # title, case-insensitive
    ("akimat", ["t1"]),                         # body
    ("w-17", ["t1"]),                           # witness pseudonym
    ("letter.pdf", ["t1"]),                     # attachment name
    ("police", ["t2"]),                         # tag
    ("six hours", ["t2"]),                      # body
    ("receipt", ["stick/receipt.png"]),         # evidence file name
    ("nothing like this", []),
])
def test_search(shared: CliHome, needle, expected):
    rows = json.loads(assert_ok(shared.main("search", needle, "--json")).stdout)
    assert sorted(r["id"] for r in rows) == sorted(shared.ids[e] for e in expected)
    for row in rows:
        assert set(row) >= SUMMARY_KEYS
    text = assert_ok(shared.main("search", needle)).stdout
    assert text.splitlines()[-1] == (f"{len(expected)} record{'s' if len(expected) != 1 else ''}"
                                     if expected else "no records")


def test_search_for_nothing_is_an_error(shared: CliHome):
    assert_error(shared.main("search", "   "), "give some text to search for")


def test_verify_and_check_json(shared: CliHome):
    report = json.loads(assert_ok(shared.main("verify", "--json")).stdout)
    assert set(report) >= {"ok", "checked", "failed", "records"}
    assert (report["ok"], report["checked"], report["failed"]) == (True, 4, 0)
    for rec in report["records"]:
        assert set(rec) >= {"id", "ok", "signer", "attachments_checked", "problems"}
        assert rec["ok"] and rec["problems"] == []
    t1 = next(r for r in report["records"] if r["id"] == shared.ids["t1"])
    assert t1["attachments_checked"] == 2

    one = json.loads(assert_ok(shared.main("verify", shared.ids["t2"][:10], "--json")).stdout)
    assert one["checked"] == 1 and one["records"][0]["id"] == shared.ids["t2"]

    for args in (["check", "--json"], ["check", "--read-data", "--json"]):
        report = json.loads(assert_ok(shared.main(*args)).stdout)
        assert set(report) >= {"ok", "packs", "objects", "records", "read_data", "problems"}
        assert report["ok"] is True and report["records"] == 4 and report["problems"] == []
        assert report["read_data"] is (args[1] == "--read-data")


def test_verify_text(shared: CliHome):
    r = assert_ok(shared.main("verify"))
    assert r.stdout.splitlines()[-1] == "4 of 4 records verified"
    assert f"ok      {shared.ids['t1'][:16]}  signed by this archive's own key, 2 file(s) match their SHA-256" in r.stdout


def test_check_needs_no_passphrase(shared: CliHome):
    r = assert_ok(shared.main("check", drop=("TESTIMONY_PASSPHRASE",)))
    assert r.stdout.endswith("records (structure only; --read-data re-hashes): ok\n")
    # --read-data does: with no passphrase and no terminal, one clear error.
    r = shared.run("check", "--read-data", drop=("TESTIMONY_PASSPHRASE",), start_new_session=True)
    assert_error(r, "no passphrase given")


def test_extract_is_byte_identical(shared: CliHome, tmp_path):
    out = tmp_path / "court-copy"
    r = assert_ok(shared.main("extract", shared.ids["t1"][:12], "--out", str(out)))
    assert sorted(p.name for p in out.iterdir()) == ["door.jpg", "letter.pdf"]
    for key, path in shared.files.items():
        assert (out / path.name).read_bytes() == path.read_bytes()
        assert f"wrote {out / path.name}" in r.stdout


def test_extract_never_overwrites(shared: CliHome, tmp_path):
    out = tmp_path / "court-copy"
    out.mkdir()
    (out / "letter.pdf").write_bytes(b"someone else's letter")
    assert_ok(shared.main("extract", shared.ids["t1"], "--out", str(out)))
    assert (out / "letter.pdf").read_bytes() == b"someone else's letter"
    assert (out / "letter (1).pdf").read_bytes() == shared.files["letter"].read_bytes()
    # A second extract into the same folder writes new names; nothing is replaced.
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_ok(shared.main("extract", shared.ids["t1"], "--out", str(out)))
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {k: after[k] for k in before} == before
    assert len(after) == len(before) + 2
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_extract_record_without_attachments(shared: CliHome, tmp_path):
    r = assert_ok(shared.main("extract", shared.ids["t2"], "--out", str(tmp_path / "o")))
    assert r.stdout == "this record has no attachments\n"


def test_extract_into_a_file_is_an_error(shared: CliHome, tmp_path):
    target = tmp_path / "a-file"
    target.write_bytes(b"x")
    assert_error(shared.main("extract", shared.ids["t1"], "--out", str(target / "sub")), "cannot create")
    assert target.read_bytes() == b"x"


def test_identity_show(shared: CliHome):
    r = assert_ok(shared.main("identity", "show"))
    assert "Name:        Almaty field team" in r.stdout
    data = json.loads(assert_ok(shared.main("identity", "show", "--json")).stdout)
    assert set(data) >= {"name", "fingerprint", "created", "sign_key", "box_key"}
    assert HEX64.fullmatch(data["fingerprint"])
    grouped = " ".join(data["fingerprint"][i:i + 4] for i in range(0, 32, 4)).upper()
    assert f"Fingerprint: {grouped}" in r.stdout
    assert f"Full:        {data['fingerprint']}" in r.stdout


def test_identity_export_and_no_overwrite(shared: CliHome, tmp_path):
    out = tmp_path / "almaty.pub"
    r = assert_ok(shared.main("identity", "export", "--out", str(out)))
    card = parse_card(out.read_bytes())
    shown = json.loads(assert_ok(shared.main("identity", "show", "--json")).stdout)
    assert card.fingerprint == shown["fingerprint"] and card.name == "Almaty field team"
    assert card.short_fingerprint in r.stdout
    assert b"secret" not in out.read_bytes()
    before = out.read_bytes()
    assert_error(shared.main("identity", "export", "--out", str(out)),
                 f"{out} already exists; nothing was overwritten")
    assert out.read_bytes() == before
    assert_error(shared.main("identity", "export", "--out", str(tmp_path / "no" / "dir" / "x.pub")),
                 "cannot write")


def test_json_keys_tested_here_are_the_documented_ones():
    from .helpers import REPO
    text = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
    section = text[text.index("## 14. JSON output of commands"):]
    section = section[:section.index("\n## ", 5)]
    documented = {"files", "bytes", "new", "duplicates", "seconds", "records", "duplicate_files",
                  "ok", "checked", "failed", "signer", "attachments_checked", "problems",
                  "packs", "objects", "read_data", "name", "fingerprint", "sign_key", "box_key"}
    for key in SUMMARY_KEYS | VIEW_KEYS | ATTACHMENT_KEYS | documented:
        assert f'"{key}"' in section, f"--json key {key!r} is not documented in docs/format.md §14"
