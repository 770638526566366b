"""The keys folder (issue 6): key files are created 0600 in a 0700 folder whatever the
umask, and a looser mode of either is refused — one `Error:` line naming the mode, a
`Hint:` with the chmod that fixes it, exit 1, nothing changed — before any passphrase
is tried. (The folder's mode was not checked before issue 6: archive/keys.py now
refuses a keys folder open to others, as SECURITY.md says.)"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from ..conftest import TEST_PASSPHRASE
from .harness import REPO, Site, assert_ok, assert_one_error, clean_env


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_init_creates_keys_0600_in_0700_whatever_the_umask(umask, tmp_path):
    site = Site(tmp_path / "s")
    site.keys.mkdir(parents=True, mode=0o777)   # a folder that was there, wide open
    os.chmod(site.keys, 0o777)
    p = subprocess.run([sys.executable, "-m", "cli", "init", "--name", "Umask team", "--kdf", "interactive"],
                       env=clean_env(**site.env), cwd=REPO, capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: os.umask(umask))
    assert p.returncode == 0, p.stderr
    assert _mode(site.keys) == 0o700 and _mode(site.home) == 0o700
    assert sorted(os.listdir(site.keys)) == ["identity.secret", "revocation.cert"]
    for name in ("identity.secret", "revocation.cert"):
        assert _mode(site.keys / name) == 0o600, name
    assert _mode(site.home / "archive.db") == 0o600 and _mode(site.home / "lock") == 0o600


LOOSE = [("identity.secret", 0o640, "the secret key file is readable by others (mode 640)", "chmod 600"),
         ("identity.secret", 0o604, "the secret key file is readable by others (mode 604)", "chmod 600"),
         ("identity.secret", 0o666, "the secret key file is readable by others (mode 666)", "chmod 600"),
         ("", 0o750, "is open to others (mode 750)", "chmod 700"),
         ("", 0o755, "is open to others (mode 755)", "chmod 700"),
         ("", 0o701, "is open to others (mode 701)", "chmod 700"),
         ("", 0o777, "is open to others (mode 777)", "chmod 700")]


@pytest.mark.parametrize("name, mode, says, fix", LOOSE)
def test_a_looser_mode_is_refused(name, mode, says, fix, world, servers, tmp_path):
    site = world.field.clone(tmp_path / "s")
    target = site.keys / name if name else site.keys
    server = servers[0]
    server.warm(site)
    os.chmod(target, mode)
    snapshot = {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file() and p.name != "lock"}
    for argv in (["list"], ["record", "--text-file", world.inputs / "statement.txt"]):
        r = server.run(argv, env=site.env, roots=[])
        assert_one_error(r, says)
        assert f"Hint: run: {fix} {target}" in r.stderr, r
    assert {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file() and p.name != "lock"} == snapshot
    os.chmod(target, 0o600 if name else 0o700)
    assert assert_ok(server.run(["list"], env=site.env, roots=[])).stdout.rstrip().endswith("4 records")


def test_stricter_modes_are_fine(world, servers, tmp_path):
    site = world.field.clone(tmp_path / "s")
    os.chmod(site.keys / "identity.secret", 0o400)
    os.chmod(site.keys, 0o500)
    try:
        r = servers[0].run(["list"], env=site.env, roots=[])
        assert_ok(r)
        assert r.stdout.rstrip().endswith("4 records")
    finally:
        os.chmod(site.keys, 0o700)


def test_wrong_passphrase_is_not_tried_on_a_loose_key_file(world, servers, tmp_path):
    """The mode is refused first: a loose key file never reaches Argon2id."""
    site = world.field.clone(tmp_path / "s")
    os.chmod(site.keys / "identity.secret", 0o644)
    r = servers[0].run(["list"], env={**site.env, "TESTIMONY_PASSPHRASE": TEST_PASSPHRASE + " wrong"}, roots=[])
    assert_one_error(r, "readable by others")
