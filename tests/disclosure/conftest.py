"""Fixtures for disclosure, report and custody-log tests.

They reuse the pinned world of tests/sync/conftest.py (field, courier, archive, lawyer,
stranger). A `scene`, built once per session on top of it, holds three testimonies that
field recorded and carried to archive (and on to lawyer), and one disclosure package that
archive wrote for a court:

    full    every field (witness consent `internal`) and two attachments, for archive and lawyer
    legal   title, body and a witness whose consent is `legal`; no location, no attachments
    twins   two attachments with the same name, from two folders

`scene.world` stays as built. Tests that change an archive work on `scene_world`, a
private copy; tests that only disclose into a fresh folder share `busy_world`, one copy
for the session (each disclosure appends a `disclosed` event there, which nothing counts).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive import disclosure as D
from tests.cli.conftest import _derive_each_key_once  # noqa: F401  (autouse: one Argon2id per key)
from tests.sync.conftest import Result, Site, World, assert_ok, world, world_template  # noqa: F401

LETTER = b"To whom it may concern: the clinic refused treatment on 3 May.\n" * 4
PHOTO = bytes(range(256)) * 3
FULL_FIELDS = {"title": "Refusal at the clinic", "body": "The guard turned us away at the door.\n",
               "language": "en", "tags": ["hospital", "refusal"],
               "witness": {"pseudonym": "W-17", "consent": "internal"},
               "location": "Fictional town, north gate"}
LEGAL_FIELDS = {"title": "Second visit", "body": "The same guard, a week later.\n",
                "witness": {"pseudonym": "W-22", "consent": "legal"}}
DEFAULT_FILES = ["SHA256SUMS", "VERIFY.txt", "allowed_signers", "author.pub", "custody.json",
                 "disclosure.json", "files/letter.txt", "files/photo.jpg", "statement.json",
                 "statement.json.sig"]


@dataclass
class Scene:
    world: World
    root: Path
    full: str
    legal: str
    twins: str
    pkg: Path            # archive's default disclosure of `full`


@pytest.fixture(scope="session")
def scene(world_template: World, tmp_path_factory) -> Scene:
    root = tmp_path_factory.mktemp("scene")
    w = world_template.clone(root / "w")
    (root / "letter.txt").write_bytes(LETTER)
    (root / "photo.jpg").write_bytes(PHOTO)
    for sub, data in (("a", b"first scan\n"), ("b", b"second scan, another file\n")):
        (root / sub).mkdir()
        (root / sub / "scan.txt").write_bytes(data)
    with w["field"].open() as f:
        full = f.record(fields=FULL_FIELDS, attachments=[root / "letter.txt", root / "photo.jpg"],
                        to=["archive", "lawyer"])
        legal = f.record(fields=LEGAL_FIELDS, to=["archive"])
        twins = f.record(fields={"title": "Two scans"},
                         attachments=[root / "a" / "scan.txt", root / "b" / "scan.txt"], to=["archive"])
        f.export_bundle(["archive"], root / "field-archive.tmy")
    with w["archive"].open() as a:
        assert a.import_bundle(root / "field-archive.tmy").new_records == 3
        a.export_bundle(["lawyer"], root / "archive-lawyer.tmy")
        a.disclose(full, root / "pkg")
    with w["lawyer"].open() as law:
        assert law.import_bundle(root / "archive-lawyer.tmy").new_records == 1
    return Scene(w, root, full, legal, twins, root / "pkg")


@pytest.fixture
def scene_world(scene: Scene, tmp_path: Path) -> World:
    """A private copy of the scene's world, for tests that change archives."""
    return scene.world.clone(tmp_path / "sw")


@pytest.fixture(scope="session")
def busy_world(scene: Scene, tmp_path_factory) -> World:
    """One copy of the scene's world shared by tests that only add disclosures."""
    return scene.world.clone(tmp_path_factory.mktemp("busy") / "w")


@pytest.fixture
def pkg(scene: Scene, tmp_path: Path) -> Path:
    """A private copy of the scene's good package, to tamper with."""
    return copy_package(scene.pkg, tmp_path / "pkg")


# --- helpers ------------------------------------------------------------------------------

def copy_package(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def package_files(folder: Path) -> list[str]:
    """Every file under `folder`, relative, sorted (what a court receives)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def resum(folder: Path) -> None:
    """Rewrite SHA256SUMS over the files it lists, as an attacker who changed them would,
    so that only the deeper check can notice."""
    names = [line.split("  ", 1)[1] for line in (folder / D.SUMS).read_text().splitlines()]
    lines = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in sorted(names))
    (folder / D.SUMS).write_text(lines)


def failed(report: D.DisclosureReport) -> tuple[str, str]:
    """(name, detail) of the one failing check; the checks before it all passed."""
    assert not report.ok, report.verdict()
    *before, last = report.checks
    assert all(c.ok for c in before) and not last.ok, report.checks
    assert report.verdict() == f"NOT VERIFIED: {last.name} failed: {last.detail}"
    return last.name, last.detail


def assert_error(r: Result, *fragments: str, hint: str | None = None) -> str:
    """Exit 1, one `Error: …` line (and at most one `Hint: …`), no traceback, no output."""
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stdout + r.stderr, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and lines[0].startswith("Error: "), r
    assert "unexpected" not in lines[0], f"a bug reached the catch-all: {r}"
    assert len(lines) == 1 or lines[1].startswith("Hint: "), r
    for fragment in fragments:
        assert fragment in lines[0], (fragment, r)
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], r
    assert r.stdout == "", r
    return lines[0]
