"""A full disk (issue 6): every write, create, mkdir and fsync of `record`, `add`,
`bundle export` and `bundle import` failing in turn with ENOSPC, and a real full file
system (a small tmpfs in a private mount namespace).

Each failure must be one `Error:` line naming the full disk (exit 1, no traceback, not the
catch-all for our bugs); afterwards nothing committed before is lost, the interrupted
command happened fully or not at all (`add`: a prefix of whole records), `check
--read-data` and `verify` pass, tmp/ is empty after the next open, and the same command
run again completes once there is room.
"""

from __future__ import annotations

import errno

import pytest

from .harness import in_mount_namespace, namespaces_available
from .sweeps import SWEEPS, Fault

ENOSPC = Fault(action="raise", errno=errno.ENOSPC, kinds=("open", "write", "mkdir", "fsync"),
               says="No space left on device", must=())
LIMITS = {"record": 10, "add": 10, "export": 10, "import": 10}


@pytest.mark.parametrize("command", list(SWEEPS))
def test_enospc_at_every_write(command, world, servers, fast_tmp):
    exercised, counted = SWEEPS[command](world, servers, fast_tmp, fault=ENOSPC,
                                         limit=LIMITS[command]).sweep()
    assert exercised == min(counted, LIMITS[command]) and counted >= 10


def test_real_full_file_system(world, tmp_path):
    """A 12 MiB tmpfs, filled but for 0, 200 kB, 1 MB and 3 MB: `record` (1.3 MB), `add`
    (5.4 MB in 5 files) and `bundle export` run into the kernel's own ENOSPC."""
    if not namespaces_available():
        pytest.skip("no user and mount namespaces here (unshare): a tmpfs cannot be mounted")
    (tmp_path / "mnt").mkdir()
    result = in_mount_namespace("full", {
        "mount": str(tmp_path / "mnt"), "size": "12m", "template": str(world.field.root),
        "inputs": str(world.inputs), "scratch": str(tmp_path / "scratch"),
        "levels": [0, 200_000, 1_000_000, 3_000_000]})
    assert result["problems"] == [], "\n".join(result["problems"])
    outcomes = result["outcomes"]
    assert len(outcomes) == 12
    for o in outcomes:
        print(f"\n{o['command']:7} {o['free']:>9,} bytes free: exit {o['exit']} {o['stderr'][:90]!r}")
    # Both sides were seen: refusals naming the full disk, and commands that fit.
    assert any(o["exit"] == 1 and "No space left on device" in o["stderr"] for o in outcomes)
    assert any(o["exit"] == 0 for o in outcomes)
    # With no room at all even SQLite's shared-memory file cannot grow: one clear line
    # (not "the index is damaged"), and nothing lost, as checked above.
    for o in outcomes:
        assert "damaged" not in o["stderr"] and "unexpected" not in o["stderr"]
