"""A read-only home (issue 6): the home bind-mounted read-only (EROFS, in a private mount
namespace), and the home or its packs/ and tmp/ folders chmod 0500 (run with the
permission checks root would skip). Every refusal is one `Error:` line, exit 1; nothing
changes, and once writable again the archive checks out and the command completes."""

from __future__ import annotations

import os
import stat

import pytest

from .harness import (assert_ok, assert_one_error, checked_contents, in_mount_namespace,
                      namespaces_available)


def test_home_on_a_read_only_mount(world, tmp_path):
    if not namespaces_available():
        pytest.skip("no user and mount namespaces here (unshare): nothing can be mounted read-only")
    result = in_mount_namespace("readonly", {
        "site": str(tmp_path / "site"), "template": str(world.field.root),
        "inputs": str(world.inputs), "scratch": str(tmp_path / "scratch")})
    assert result["problems"] == [], "\n".join(result["problems"])
    assert [o["command"] for o in result["outcomes"]] == ["record", "add", "list", "verify", "check"]
    assert all(o["exit"] == 1 for o in result["outcomes"])


def _chmod(paths, mode):
    for p in paths:
        os.chmod(p, mode)


@pytest.mark.parametrize("what", ["home", "packs-and-tmp"])
def test_chmod_0500(what, world, servers, tmp_path):
    site = world.field.clone(tmp_path / "site")
    before = checked_contents(site)
    home = site.home
    targets = [home] if what == "home" else [home / "packs", *sorted((home / "packs").iterdir()), home / "tmp"]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in targets}
    snapshot = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "lock"}
    i = world.inputs
    server = servers[0]
    server.warm(site)
    commands = [["record", "--text-file", i / "statement.txt", "--attach", i / "letter.pdf"],
                ["add", i / "clinic"]]
    _chmod(targets, 0o500)
    try:
        for argv in commands:
            r = server.run(argv, env=site.env, roots=[], obey_modes=True)
            line = assert_one_error(r)
            assert "Permission denied" in line or "readonly database" in line, r
            assert "damaged" not in line
            assert "Hint: make the folder writable" in r.stderr
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "lock"} == snapshot
    assert checked_contents(site) == before
    for argv in commands:
        assert_ok(server.run(argv, env=site.env, roots=[], obey_modes=True))
    after = checked_contents(site)
    assert {k: after[k] for k in before} == before and len(after) == len(before) + 5
