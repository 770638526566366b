"""kill -9 at every write and fsync point of `record`, `add`, `bundle export` and
`bundle import` (issue 6); tests/sync/test_crash.py kills `bundle import` at a few
chosen steps, this kills each command at every point the fork server counts.

The failpoints (forkserver.py) are every open for writing, raw write(2), fsync, rename,
link, unlink and mkdir under the archive, the keys folder or the output folder, and
every SQLite commit and close. A clean run counts them; then a fresh copy of the archive
runs the same real command line once per point, SIGKILLing itself just before that
call: at every point of `record`, `bundle export` and `bundle import`; for `add` (the
most points) at the first and the last, every fsync, rename, SQLite commit and close,
and opens, writes and mkdirs spread evenly to make up LIMITS. What is checked after each
kill, and after running the command again: sweeps.py. `pytest -s` prints the counts.

The archives live in a RAM-backed folder when there is one: a process kill leaves the
page cache as it was, so what survives does not depend on the file system, and skipping
real fsyncs makes ~130 kills fit in the time budget. (Power loss is not simulated.)
"""

from __future__ import annotations

import pytest

from .sweeps import SWEEPS

# Points each command's sweep may exercise (all of them when there are fewer).
LIMITS = {"record": 60, "add": 34, "export": 60, "import": 60}


@pytest.mark.parametrize("command", list(SWEEPS))
def test_kill_at_every_point(command, world, servers, fast_tmp):
    exercised, counted = SWEEPS[command](world, servers, fast_tmp, limit=LIMITS[command]).sweep()
    assert exercised >= min(counted, LIMITS[command])
    # The command really writes: a sweep of nothing proves nothing. (`record` has 19: its
    # pack's bytes leave in one staged write, archive/store.py.)
    assert counted >= 15
