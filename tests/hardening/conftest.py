"""Fixtures for the hardening tests (issue 6): a field site and an archive site pinned to
each other, holding records from earlier, completed commands; fork servers that run the
real command line with failpoints."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from .harness import RAM, ForkServer, Site


@pytest.fixture(autouse=True)
def _derive_each_key_once(monkeypatch):
    """In-process unlocks (the checks) derive each key once; every CLI process derives
    for real (see tests/cli/helpers.unsafe_memoized_argon2id)."""
    import archive.crypto
    from ..cli.helpers import unsafe_memoized_argon2id
    monkeypatch.setattr(archive.crypto, "argon2id", unsafe_memoized_argon2id(archive.crypto.argon2id))


@pytest.fixture
def fast_tmp(tmp_path):
    """A fresh folder in RAM (/dev/shm) when there is one, else tmp_path: for sweeps of
    many runs, where real fsyncs would only cost time (a killed process leaves the page
    cache as it was)."""
    if not (RAM.is_dir() and os.access(RAM, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="testimony-hardening-", dir=RAM))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """Two fork servers (this machine's two CPUs run two crash runs at once)."""
    root = tmp_path_factory.mktemp("forkservers")
    pool = [ForkServer(root / str(i)) for i in range(2)]
    yield pool
    for server in pool:
        server.close()


def _card(site: Site, path) -> str:
    with site.open() as a:
        return a.export_identity(path).fingerprint


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """Templates (copy before changing them): `field` holds a testimony with an
    attachment and three evidence files, all readable by `archive` too (its default
    recipient); `archive` pins `field`. `inputs` holds files for the commands under test."""
    import archive.crypto
    from ..cli.helpers import unsafe_memoized_argon2id
    real = archive.crypto.argon2id
    archive.crypto.argon2id = unsafe_memoized_argon2id(real)
    try:
        root = tmp_path_factory.mktemp("hardening-world")
        field, arch = Site(root / "field").create("Field team"), Site(root / "archive").create("Archive")
        fp_field, fp_archive = _card(field, root / "field.pub"), _card(arch, root / "archive.pub")
        inputs = root / "inputs"
        earlier = inputs / "earlier"
        earlier.mkdir(parents=True)
        for i in range(3):
            (earlier / f"photo-{i}.jpg").write_bytes(os.urandom(60_000 + i))
        (inputs / "notice.pdf").write_bytes(os.urandom(1_100_000))
        with field.open() as a:
            a.add_peer(root / "archive.pub", name="archive", role="archivist", fingerprint=fp_archive)
            a.set_default_recipients(["archive"])
            a.record(fields={"title": "Refused at the district hospital",
                             "body": "The nurse at the door said they had orders.\n"},
                     attachments=[inputs / "notice.pdf"])
            a.add([earlier])
        with arch.open() as a:
            a.add_peer(root / "field.pub", name="field", role="field", fingerprint=fp_field)
            a.record(fields={"title": "Archive's own note", "body": "Kept here.\n"})
        # What the commands under test are given.
        (inputs / "statement.txt").write_text("title: Beaten at the station\n---\n"
                                              "They took my phone and kept me overnight.\n")
        (inputs / "letter.pdf").write_bytes(os.urandom(1_300_000))    # two chunks
        (inputs / "door.jpg").write_bytes(os.urandom(5_000))
        folder = inputs / "clinic"
        folder.mkdir()
        (folder / "01-video.mp4").write_bytes(os.urandom(4_400_000))   # > 4 MiB: the large-file path
        (folder / "02-photo.jpg").write_bytes(os.urandom(300_000))
        (folder / "03-again.jpg").write_bytes((earlier / "photo-1.jpg").read_bytes())  # a duplicate
        (folder / "04-note.txt").write_bytes(b"seen at 14:10\n" * 100)
        (folder / "05-scan.png").write_bytes(os.urandom(700_000))
        return SimpleNamespace(root=root, field=field, archive=arch, inputs=inputs,
                               fp_field=fp_field, fp_archive=fp_archive)
    finally:
        archive.crypto.argon2id = real
