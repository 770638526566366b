"""`disclose ID --out DIR`: what a package holds, what it reveals, and what it refuses.

Library calls for the reveal choices (fast), real `python -m cli` processes for the
messages a lawyer sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import constants as C
from archive import disclosure as D
from archive.errors import TrustError, UsageError
from archive.records import field_digest

from .conftest import DEFAULT_FILES, FULL_FIELDS, LETTER, PHOTO, assert_error, assert_ok, package_files


def _disclose(world, tmp_path: Path, record: str, reveal: list[str]) -> tuple[Path, D.DisclosureReport]:
    out = tmp_path / "out"
    with world["archive"].open() as a:
        rid, files = a.disclose(record[:12], out, reveal=reveal)
    assert rid == record and files == package_files(out)
    report = D.verify_package(out)
    assert report.ok, report.verdict()
    return out, report


def _revealed(out: Path) -> list[tuple[str, object]]:
    return [(name, value) for _, name, value in json.loads((out / D.DISCLOSURE).read_bytes())["revealed"]]


def test_default_reveals_title_body_and_attachments(scene):
    names = [n for n, _ in _revealed(scene.pkg)]
    assert sorted(names) == ["attachment", "attachment", "body", "title"]
    report = D.verify_package(scene.pkg)
    assert report.ok
    assert sorted(report.revealed) == ["attachment 'letter.txt'", "attachment 'photo.jpg'", "body", "title"]
    assert (report.hidden_fields, report.hidden_attachments) == (4, 0)
    # Hidden fields leave no trace in the package but their salted digests.
    everything = b"".join((scene.pkg / name).read_bytes() for name in package_files(scene.pkg))
    for hidden in (b"W-17", b"Fictional town", b"hospital"):
        assert hidden not in everything


@pytest.mark.parametrize("name", [n for n in C.FIELD_NAMES if n != "witness"])
def test_reveal_each_field_alone(busy_world, scene, tmp_path, name):
    out, report = _disclose(busy_world, tmp_path, scene.full, [name])
    assert _revealed(out) == [(name, FULL_FIELDS[name])]
    assert report.revealed == [name]
    assert (report.hidden_fields, report.hidden_attachments) == (5, 2)
    assert not (out / D.FILES).exists() or list((out / D.FILES).iterdir()) == []
    statement = json.loads((out / D.STATEMENT).read_bytes())
    [(salt, _, value)] = json.loads((out / D.DISCLOSURE).read_bytes())["revealed"]
    assert field_digest(bytes.fromhex(salt), name, value).hex() in statement["fields"]


def test_reveal_witness_with_legal_consent(busy_world, scene, tmp_path):
    out, report = _disclose(busy_world, tmp_path, scene.legal, ["witness"])
    assert _revealed(out) == [("witness", {"pseudonym": "W-22", "consent": "legal"})]
    assert report.revealed == ["witness"] and report.hidden_fields == 2


def test_reveal_all_attachments(busy_world, scene, tmp_path):
    out, report = _disclose(busy_world, tmp_path, scene.full, ["attachments"])
    assert (out / "files" / "letter.txt").read_bytes() == LETTER
    assert (out / "files" / "photo.jpg").read_bytes() == PHOTO
    assert (report.hidden_fields, report.hidden_attachments) == (6, 0)
    assert sorted(f["name"] for f in report.files) == ["letter.txt", "photo.jpg"]


def test_reveal_one_attachment_by_name(busy_world, scene, tmp_path):
    out, report = _disclose(busy_world, tmp_path, scene.full, ["attachment:letter.txt"])
    assert sorted(p.name for p in (out / "files").iterdir()) == ["letter.txt"]
    assert report.revealed == ["attachment 'letter.txt'"]
    assert (report.hidden_fields, report.hidden_attachments) == (6, 1)
    [entry] = report.files
    assert entry["path"] == "files/letter.txt" and entry["size"] == len(LETTER)


def test_attachments_with_the_same_name_get_distinct_files(busy_world, scene, tmp_path):
    out, report = _disclose(busy_world, tmp_path, scene.twins, [])
    assert sorted(p.name for p in (out / "files").iterdir()) == ["scan (1).txt", "scan.txt"]
    assert sorted((out / "files" / n).read_bytes() for n in ("scan.txt", "scan (1).txt")) == [
        b"first scan\n", b"second scan, another file\n"]
    assert report.hidden_attachments == 0


@pytest.mark.parametrize("reveal, message", [
    (["colour"], "cannot reveal 'colour': choose from title, body"),
    (["location"], "this record has no location"),
    (["attachments"], "this record has no attachments"),
    (["attachment:photo.jpg"], "this record has no attachment named 'photo.jpg'"),
])
def test_unknown_or_absent_field_refused(busy_world, scene, tmp_path, reveal, message):
    with busy_world["archive"].open() as a:
        with pytest.raises(UsageError, match=message):
            a.disclose(scene.legal, tmp_path / "out", reveal=reveal)
    assert not (tmp_path / "out").exists()


def test_witness_with_internal_consent_refused(scene_world, scene, tmp_path):
    site, out = scene_world["archive"], tmp_path / "out"
    before = site.state()
    r = site.run("disclose", scene.full[:12], "--out", str(out), "--reveal", "title", "--reveal", "witness")
    assert_error(r, "the witness consented to internal use only; their pseudonym cannot be disclosed",
                 hint="disclose without --reveal witness")
    assert not out.exists()
    assert site.state() == before  # not even a `disclosed` custody event


@pytest.mark.parametrize("existing", ["non-empty folder", "file"])
def test_existing_out_refused_and_nothing_written(scene_world, scene, tmp_path, existing):
    site, out = scene_world["archive"], tmp_path / "out"
    if existing == "file":
        out.write_bytes(b"a court's own notes")
    else:
        out.mkdir()
        (out / "notes.txt").write_bytes(b"a court's own notes")
    with site.open() as a:
        before = len(a.custody(scene.full).steps)
    state = site.state()
    r = site.run("disclose", scene.full[:12], "--out", str(out))
    if existing == "file":   # click refuses it before the archive is opened
        assert r.exit_code == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr, r
        with site.open() as a:
            with pytest.raises(UsageError, match="exists and is not an empty folder; nothing was written"):
                a.disclose(scene.full, out)
        assert out.read_bytes() == b"a court's own notes"
    else:
        assert_error(r, f"{out} exists and is not an empty folder; nothing was written")
        assert package_files(out) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "sw"]   # no partial folder left
    # Nothing was disclosed, so custody must not claim a disclosure.
    assert site.state() == state
    with site.open() as a:
        assert len(a.custody(scene.full).steps) == before


def test_empty_out_folder_is_used(busy_world, scene, tmp_path):
    (tmp_path / "out").mkdir()
    out, _ = _disclose(busy_world, tmp_path, scene.full, ["title"])
    assert (out / D.STATEMENT).is_file()


def test_author_not_pinned_refused(scene_world, scene, tmp_path):
    lawyer, out = scene_world["lawyer"], tmp_path / "out"
    r = lawyer.run("disclose", scene.full[:12], "--out", str(out))
    assert_error(r, "the author's key is not pinned here, so its identity card is unknown",
                 hint="testimony peers add CARD")
    assert not out.exists()
    with lawyer.open() as law:
        with pytest.raises(TrustError):
            law.disclose(scene.full, out)


def test_cli_disclose_writes_the_package_and_logs_a_disclosed_event(scene_world, scene, tmp_path):
    site, out = scene_world["archive"], tmp_path / "court-2026-114"
    r = assert_ok(site.run("disclose", scene.full[:12], "--out", str(out)))
    assert r.stdout == (f"Wrote {out} for record {scene.full[:16]}: {len(DEFAULT_FILES)} files\n"
                        f"Check it: cd {out} && sha256sum -c SHA256SUMS && testimony verify-disclosure .\n")
    assert package_files(out) == DEFAULT_FILES
    sums = (out / D.SUMS).read_text().splitlines()
    assert sorted(line.split("  ", 1)[1] for line in sums) == [f for f in DEFAULT_FILES if f != D.SUMS]
    verify_txt = (out / D.README).read_text()
    assert "sha256sum -c SHA256SUMS" in verify_txt and "ssh-keygen -Y verify" in verify_txt
    assert scene.full in verify_txt

    shown = assert_ok(site.run("custody", scene.full[:12])).stdout.splitlines()
    disclosed = [line for line in shown if " disclosed " in line]
    assert len(disclosed) == 2   # the scene's package and this one
    assert all("by this archive's own key" in line and "signature valid; in its log at #" in line
               for line in disclosed)
    assert shown[-1] == "6 custody events"
    listed = json.loads(assert_ok(site.run("custody", scene.full[:12], "--json")).stdout)
    assert sorted(e["event"] for e in listed["events"]) == [
        "disclosed", "disclosed", "exported", "exported", "imported", "recorded"]
    assert all(e["log"]["inclusion_valid"] for e in listed["events"])
