"""Scenarios on real file systems that need a mount: run inside a private user and mount
namespace (`unshare --user --map-root-user --mount`), so no root is needed and the
mounts vanish with the process. Prints one JSON object: what each command did and any
problem found (the test asserts there is none).

    python -m tests.hardening.mountns SCENARIO JSON-ARGS

`full`: a small tmpfs; a copy of the field site on it; the rest of the space taken by a
filler file leaving N bytes free; the real command line runs `record`, `add` and
`bundle export` there (fork server, no failpoints: the kernel's own ENOSPC); then the
filler is removed and everything is checked, and the command run again.

`readonly`: the site's home bind-mounted read-only (EROFS for real); commands must fail
with one clear line and change nothing; once writable again everything checks out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from .harness import ForkServer, Site, assert_ok, assert_one_error, checked_contents


def _memoize() -> None:
    import archive.crypto
    from ..cli.helpers import unsafe_memoized_argon2id
    archive.crypto.argon2id = unsafe_memoized_argon2id(archive.crypto.argon2id)


def _fill(mount: Path, leave: int) -> None:
    """Take all the free space of `mount` but `leave` bytes (to a block)."""
    with open(mount / "filler", "wb") as f:
        while True:
            free = shutil.disk_usage(mount).free - leave
            if free <= 0:
                break
            try:
                f.write(b"\0" * min(free, 1 << 20))
                f.flush()
            except OSError:
                break


def _new(before: dict, now: dict) -> list:
    return sorted((v for k, v in now.items() if k not in before), key=lambda v: v[1])


def full(args: dict) -> dict:
    mount = Path(args["mount"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args['size']}", "tmpfs", str(mount)], check=True)
    template, inputs = Site(Path(args["template"])), Path(args["inputs"])
    server = ForkServer(Path(args["scratch"]))
    server.warm(template)
    before = checked_contents(template)
    commands = {
        "record": (["record", "--text-file", inputs / "statement.txt", "--attach", inputs / "letter.pdf",
                    "--attach", inputs / "door.jpg"], 1),
        "add": (["add", inputs / "clinic"], 4),
        "export": (["bundle", "export", "--to", "archive", "--out", mount / "site" / "to-archive.tmy"], 0),
    }
    outcomes, problems = [], []
    for name, (argv, records) in commands.items():
        for leave in args["levels"]:
            site = template.clone(mount / "site")
            _fill(mount, leave)
            free = shutil.disk_usage(mount).free
            r = server.run(argv, env=site.env, roots=[])
            tmp_left = site.tmp_files() if (site.home / "tmp").is_dir() else []
            outcome = {"command": name, "free": free, "exit": r.exit_code, "stderr": r.stderr.strip(),
                       "tmp_left_by_failed_run": tmp_left}
            outcomes.append(outcome)
            try:
                if r.exit_code != 0:
                    assert_one_error(r)
                    assert any(w in r.stderr for w in ("No space left on device", "disk is full",
                                                       "disk I/O error")), r
                listed = server.run(["list"], env=site.env, roots=[])   # still on the full disk
                outcome["list_on_full_disk"] = (listed.exit_code, listed.stderr.strip())
                if listed.exit_code != 0:
                    assert_one_error(listed)
                (mount / "filler").unlink()
                now = checked_contents(site)
                assert {k: now.get(k) for k in before} == before, "an earlier record changed"
                new = _new(before, now)
                assert len(new) in ((0, records) if name != "add" else range(0, records + 1)), new
                if r.exit_code == 0:
                    assert len(new) == records
                existed = (site.root / "to-archive.tmy").exists()
                again = server.run(argv, env=site.env, roots=[])
                if name == "export" and existed:   # complete: never overwritten
                    assert_one_error(again, "already exists")
                else:
                    assert_ok(again)
                after = checked_contents(site)
                assert len(_new(before, after)) == (len(new) + records if name == "record" else records)
            except AssertionError as e:
                problems.append(f"{name} with {free} bytes free: {str(e)[:800]}")
            (mount / "filler").unlink(missing_ok=True)
            shutil.rmtree(site.root)
    server.close()
    return {"outcomes": outcomes, "problems": problems}


def readonly(args: dict) -> dict:
    template = Site(Path(args["template"]))
    inputs = Path(args["inputs"])
    site = template.clone(Path(args["site"]))
    server = ForkServer(Path(args["scratch"]))
    server.warm(template)
    before = checked_contents(site)
    snapshot = {p: p.read_bytes() for p in site.home.rglob("*") if p.is_file() and p.name != "lock"}
    home = str(site.home)
    subprocess.run(["mount", "--bind", home, home], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", home], check=True)
    outcomes, problems = [], []
    for argv in (["record", "--text-file", inputs / "statement.txt", "--attach", inputs / "door.jpg"],
                 ["add", inputs / "clinic"], ["list"], ["verify"], ["check"]):
        r = server.run(argv, env=site.env, roots=[])
        outcomes.append({"command": str(argv[0]), "exit": r.exit_code, "stderr": r.stderr.strip()})
        try:
            assert_one_error(r)
            assert "Read-only file system" in r.stderr or "readonly database" in r.stderr, r
        except AssertionError as e:
            problems.append(f"{argv[0]}: {str(e)[:800]}")
    subprocess.run(["umount", home], check=True)
    try:
        assert {p: p.read_bytes() for p in site.home.rglob("*")
                if p.is_file() and p.name != "lock"} == snapshot, "the read-only home changed"
        assert checked_contents(site) == before
        assert_ok(server.run(["record", "--text-file", inputs / "statement.txt"], env=site.env, roots=[]))
    except AssertionError as e:
        problems.append(f"afterwards: {str(e)[:800]}")
    server.close()
    return {"outcomes": outcomes, "problems": problems}


if __name__ == "__main__":
    _memoize()
    try:
        result = {"full": full, "readonly": readonly}[sys.argv[1]](json.loads(sys.argv[2]))
    except Exception:
        result = {"outcomes": [], "problems": [traceback.format_exc()]}
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)
