"""The home on one file system, everything else on another (issue 6): the temporary
folder (TMPDIR), the keys, the files added, the bundle written and read, the folder
extracted into — /dev/shm (tmpfs) against the disk under the test's temporary folder,
both ways round. Nothing may rename across them (EXDEV): every command completes, the
archive checks out, and nothing is left in tmp/ or TMPDIR."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .harness import RAM, Site, assert_ok, checked_contents


def _moved(template: Site, home_side: Path, other_side: Path, name: str) -> Site:
    """A copy of `template` with its home on one side and its keys on the other."""
    site = template.clone(home_side / name)
    shutil.move(str(site.keys), str(other_side / f"{name}-keys"))
    site.keys = other_side / f"{name}-keys"
    return site


@pytest.mark.parametrize("home_in_ram", [False, True])
def test_home_and_temporary_folder_on_different_file_systems(home_in_ram, world, servers, tmp_path):
    if not (RAM.is_dir() and os.access(RAM, os.W_OK)):
        pytest.skip("no /dev/shm here")
    ram = Path(tempfile.mkdtemp(prefix="testimony-xfs-", dir=RAM))
    try:
        disk = tmp_path / "disk"
        disk.mkdir()
        assert os.stat(ram).st_dev != os.stat(disk).st_dev   # really two file systems
        home_side, other = (ram, disk) if home_in_ram else (disk, ram)
        field = _moved(world.field, home_side, other, "field")
        archive = _moved(world.archive, home_side, other, "archive")
        tmpdir = other / "TMPDIR"
        tmpdir.mkdir()
        inputs = other / "inputs"
        shutil.copytree(world.inputs, inputs)
        server = servers[0]
        server.warm(world.field)
        server.warm(world.archive)

        def run(site: Site, *argv) -> str:
            r = server.run(list(argv), env={**site.env, "TMPDIR": str(tmpdir)}, roots=[])
            return assert_ok(r).stdout

        rid = run(field, "record", "--text-file", inputs / "statement.txt", "--attach", inputs / "letter.pdf").strip()
        assert "4 new, 1 duplicates" in run(field, "add", inputs / "clinic")
        run(field, "bundle", "export", "--to", "archive", "--out", other / "to-archive.tmy")
        assert "9 new records" in run(archive, "bundle", "import", other / "to-archive.tmy")
        run(archive, "extract", rid[:16], "--out", other / "court-copy")
        assert (other / "court-copy" / "letter.pdf").read_bytes() == (inputs / "letter.pdf").read_bytes()
        for site in (field, archive):
            assert "records verified" in run(site, "verify")
            assert run(site, "check", "--read-data").rstrip().endswith(": ok")
            checked_contents(site)   # tmp/ empty too
        assert list(tmpdir.iterdir()) == []
        assert sorted(p.name for p in other.iterdir()) == sorted(
            ["TMPDIR", "inputs", "field-keys", "archive-keys", "to-archive.tmy", "court-copy"])
    finally:
        shutil.rmtree(ram, ignore_errors=True)
