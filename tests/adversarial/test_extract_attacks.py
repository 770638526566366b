"""Named attacks on `extract`: a signed record whose stored attachment names are hostile
must never make us write outside --out, follow a planted symlink, or replace a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import archive.api as api

from ..cli.helpers import CliHome, assert_ok, walk_files

HOSTILE_NAMES = [
    "../../escape-parent.txt",
    "/tmp/escape-absolute.txt",
    "sub/../../../../escape-deep.txt",
    "..",
    ".",
    "",
    "..\\..\\escape-windows.txt",
    "name\x00with-nul.txt",
    "line\nbreak\r.txt",
    ".bashrc",
    "x" * 1000 + ".txt",
    "same.txt",
    "same.txt",
    "\u202etxt.exe",
]


def _record_with_names(h: CliHome, tmp_path: Path, names: list[str],
                       monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[bytes]]:
    """A properly signed record whose attachments carry `names` (built through the library:
    the name a file is stored under is whatever the signer chose)."""
    sources, contents = [], []
    for i, _ in enumerate(names):
        p = tmp_path / f"src-{i}.bin"
        p.write_bytes(f"content {i} ".encode() * (i + 1))
        sources.append(p)
        contents.append(p.read_bytes())
    chosen = iter(names)
    real = api.encrypt_attachment

    def with_hostile_name(path, keyer, writer, *, name):
        return real(path, keyer, writer, name=next(chosen))

    monkeypatch.setattr(api, "encrypt_attachment", with_hostile_name)
    archive = h.open()
    try:
        record_id = archive.record(fields={"title": "hostile names"}, attachments=sources)
    finally:
        archive.close()
    monkeypatch.undo()
    return record_id, contents


def _outside_snapshot(root: Path, out: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in walk_files(root)
            if out not in p.parents and "home" not in p.relative_to(root).parts}


def test_extract_name_traversal(archive_home: CliHome, tmp_path, monkeypatch):
    record_id, contents = _record_with_names(archive_home, tmp_path, HOSTILE_NAMES, monkeypatch)
    with archive_home.open() as a:
        stored = [x["name"] for x in a.show(record_id).attachments]
    assert sorted(stored) == sorted(HOSTILE_NAMES), "the hostile names are what was signed"
    out = tmp_path / "court" / "copy"
    before = _outside_snapshot(tmp_path, out)
    escapes = [Path("/tmp/escape-absolute.txt"), tmp_path / "escape-parent.txt",
               tmp_path / "court" / "escape-parent.txt", tmp_path.parent / "escape-deep.txt"]
    for e in escapes:
        e.unlink(missing_ok=True)

    r = assert_ok(archive_home.main("extract", record_id, "--out", str(out)))

    written = sorted(out.iterdir())
    assert len(written) == len(HOSTILE_NAMES)
    for path in written:
        assert path.parent == out and path.is_file() and not path.is_symlink()
        assert not path.name.startswith(".")
        assert "/" not in path.name and "\x00" not in path.name and "\n" not in path.name
        assert len(path.name.encode()) <= 255
        assert f"wrote {path}" in r.stdout
    assert sorted(p.read_bytes() for p in written) == sorted(contents)
    assert _outside_snapshot(tmp_path, out) == before
    for e in escapes:
        assert not e.exists(), e


def test_extract_does_not_follow_planted_symlink(archive_home: CliHome, tmp_path, monkeypatch):
    record_id, contents = _record_with_names(archive_home, tmp_path, ["report.pdf"], monkeypatch)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"do not touch")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").symlink_to(victim)               # where the file would go
    (out / ".report (1).pdf.partial").symlink_to(victim)  # and where its temp file would
    assert_ok(archive_home.main("extract", record_id, "--out", str(out)))
    assert victim.read_bytes() == b"do not touch"
    regular = [p for p in out.iterdir() if p.is_file() and not p.is_symlink()]
    assert [p.read_bytes() for p in regular] == contents


def test_extract_with_out_given_as_relative_path_stays_inside(archive_home: CliHome, tmp_path,
                                                             monkeypatch):
    record_id, _ = _record_with_names(archive_home, tmp_path, ["../../../up.txt"], monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        assert_ok(archive_home.main("extract", record_id, "--out", "copy"))
    finally:
        os.chdir(cwd)
    [written] = list((work / "copy").iterdir())
    assert written.name == "_.._.._up.txt" and written.is_file()
    assert sorted(p.name for p in work.iterdir()) == ["copy"]
