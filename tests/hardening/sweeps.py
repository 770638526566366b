"""Sweeps: run one real command many times on copies of an archive, each time with a
fault at a different failpoint (forkserver.py), and check what is left.

A sweep first runs the command cleanly and counts its failpoints. Then, for each chosen
point, a fresh copy of the archive runs the same command with the fault there — a
SIGKILL just before the call, or the call failing with an OSError (a full or read-only
disk). After each:

- the archive opens (recovering), tmp/ is empty, `check --read-data` and `verify` pass;
- every record committed before (by earlier, completed commands) is there and opens to
  the same content;
- the interrupted command happened fully or not at all (`add`: a prefix, in walk order,
  of whole records); a failed one said so in one `Error:` line, exit 1, no traceback;
- the same command run again completes, and the archive still checks out.
"""

from __future__ import annotations

import queue
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .harness import Result, Site, assert_ok, assert_one_error, checked_contents, pick_points


@dataclass(frozen=True)
class Fault:
    action: str = "kill"                 # or "raise"
    errno: int | None = None
    kinds: tuple[str, ...] = ()          # the failpoints counted (all kinds when empty)
    says: str = ""                       # what the `Error:` line must contain ("raise")
    must: tuple[str, ...] = ("fsync", "rename", "link", "unlink", "rmdir", "sql-commit",
                             "sql-write", "sql-close")   # never sampled away


KILL = Fault()


def summary(site: Site) -> dict:
    """Records, evidence objects (not the index's own journal objects), bundles received
    and sent, read as another process would."""
    with site.db() as db:
        q = lambda sql: frozenset(r[0] for r in db.execute(sql))  # noqa: E731
        return {"records": q("SELECT id FROM records"),
                "objects": q("SELECT id FROM objects WHERE kind IN ('envelope', 'chunk')"),
                "received": q("SELECT bundle FROM received"), "sent": q("SELECT bundle FROM sent")}


class Sweep:
    """Fault one command at each chosen failpoint, check, run it again, check again."""

    name = ""

    def __init__(self, template: Site, servers, tmp: Path, *, fault: Fault = KILL, limit: int,
                 knobs: dict | None = None) -> None:
        self.template, self.tmp, self.fault, self.limit, self.knobs = template, tmp, fault, limit, knobs
        self.servers: queue.Queue = queue.Queue()
        for server in servers:
            server.warm(template)
            self.servers.put(server)
        self.before = checked_contents(template)
        self.before_summary = summary(template)
        self.exits: list[int] = []   # the faulted runs' exit statuses
        self.left: list[str] = []    # what each faulted run left: see `what_happened`

    # --- what each command defines ------------------------------------------------------------
    def argv(self, site: Site) -> list:
        raise NotImplementedError

    def learn(self, r: Result, site: Site) -> None:
        """From the clean run: what the command does when nothing goes wrong."""

    def interrupted(self, site: Site, now: dict):
        """Check what the faulted command left; return what `again` needs to know."""
        raise NotImplementedError

    def what_happened(self, site: Site, now: dict, state) -> str:
        """For the summary: how much of the command a faulted run left done."""
        new = len([k for k in now if k not in self.before])
        return f"{new} of {len(self.after) - len(self.before)} new records"

    def complete(self, site: Site, now: dict, state) -> bool:
        """Whether the faulted command nevertheless did all of its work."""
        raise NotImplementedError

    def again(self, site: Site, was: dict, r: Result, state) -> None:
        """Check the same command run again on the recovered archive."""
        raise NotImplementedError

    # --- the sweep ----------------------------------------------------------------------------
    def run(self, server, site: Site, *, at: int | None = None) -> Result:
        f = self.fault
        return server.run(self.argv(site), env=site.env, roots=[site.home, site.keys, site.root / "out"],
                          at=at, kinds=list(f.kinds) or None, action=f.action, errno=f.errno,
                          knobs=self.knobs)

    def fresh(self, name: str) -> Site:
        site = self.template.clone(self.tmp / name)
        (site.root / "out").mkdir()
        return site

    def clean_run(self) -> None:
        server = self.servers.get()
        try:
            site = self.fresh("clean")
            r = self.run(server, site)
            assert_ok(r)
            self.trace = r.trace
            self.after = checked_contents(site)
            self.after_summary = summary(site)
            self.learn(r, site)
        finally:
            self.servers.put(server)

    def survive(self, n: int) -> None:
        server = self.servers.get()
        site = self.fresh(f"at-{n}")
        try:
            r = self.run(server, site, at=n)
            self.exits.append(r.exit_code)
            # (A run may have a point or two fewer than the clean one: a pack whose random
            # id starts a new packs/xx folder costs a folder fsync more. Then it completes.)
            if self.fault.action == "kill" and not (r.exit_code == 0 and len(r.trace) < n):
                assert r.exit_code == -9, f"not killed: {r}"
            elif r.exit_code != 0:
                assert_one_error(r, self.fault.says)
            now = checked_contents(site)
            assert {k: now.get(k) for k in self.before} == self.before, "an earlier record changed"
            state = self.interrupted(site, now)
            self.left.append(self.what_happened(site, now, state))
            if r.exit_code == 0:   # the fault hit what the command may do without (a later retry)
                assert self.complete(site, now, state), f"exit 0, but the command did not happen: {r}"
            again = self.run(server, site)
            self.again(site, now, again, state)
        finally:
            self.servers.put(server)
        shutil.rmtree(site.root)

    def sweep(self) -> tuple[int, int]:
        """Return (points exercised, points counted)."""
        self.clean_run()
        points = pick_points(self.trace, self.limit, self.fault.must)
        assert points[0] == 1 and points[-1] == len(self.trace)
        failures = []

        def attempt(n: int) -> None:
            try:
                self.survive(n)
            except AssertionError as e:
                failures.append(f"point {n} {self.trace[n - 1]}: {str(e)[:700]}")

        with ThreadPoolExecutor(max_workers=self.servers.qsize()) as pool:
            list(pool.map(attempt, points))
        assert not failures, "\n".join(sorted(failures)[:8])
        kinds = sorted({t[0] for t in self.trace})
        exits = ", ".join(f"exit {code}: {self.exits.count(code)}" for code in sorted(set(self.exits)))
        left = ", ".join(f"{what}: {self.left.count(what)}" for what in sorted(set(self.left)))
        print(f"\n{self.name} ({self.fault.action}{' ' + self.fault.says if self.fault.says else ''}): "
              f"{len(points)} of {len(self.trace)} failpoints exercised, all survived; points "
              f"{', '.join(f'{k} {sum(1 for t in self.trace if t[0] == k)}' for k in kinds)}; "
              f"{exits}; left {left}")
        return len(points), len(self.trace)


# --- record --------------------------------------------------------------------------------------

class RecordSweep(Sweep):
    name = "record"

    def __init__(self, world, servers, tmp, **kw) -> None:
        super().__init__(world.field, servers, tmp, **kw)
        i = world.inputs
        self.args = ["record", "--text-file", i / "statement.txt", "--attach", i / "letter.pdf",
                     "--attach", i / "door.jpg", "--tag", "station"]

    def argv(self, site):
        return self.args

    def learn(self, r, site):
        new = {k: v for k, v in self.after.items() if k not in self.before}
        assert list(new) == [r.stdout.strip()]
        self.expected = next(iter(new.values()))
        assert self.expected[1] == "Beaten at the station" and len(self.expected[3]) == 2

    def _new(self, now):
        return [v for k, v in now.items() if k not in self.before]

    def interrupted(self, site, now):
        assert self._new(now) in ([], [self.expected]), self._new(now)   # nothing, or all of it

    def complete(self, site, now, state):
        return self._new(now) == [self.expected]

    def again(self, site, was, r, state):
        assert_ok(r)
        now = checked_contents(site)
        assert set(now) - set(was) == {r.stdout.strip()}
        assert now[r.stdout.strip()] == self.expected


# --- add -----------------------------------------------------------------------------------------

class AddSweep(Sweep):
    """Small packs (512 KiB instead of 16 MiB), so `add` commits several times and a fault
    can land between two commits: what is kept must be a prefix of whole records."""

    name = "add"
    NAMES = ["clinic/01-video.mp4", "clinic/02-photo.jpg", "clinic/04-note.txt", "clinic/05-scan.png"]

    def __init__(self, world, servers, tmp, **kw) -> None:
        super().__init__(world.field, servers, tmp, knobs={"archive.constants.PACK_TARGET_BYTES": 512 * 1024},
                         **kw)
        self.args = ["add", world.inputs / "clinic", "--tag", "clinic"]

    def argv(self, site):
        return self.args

    def learn(self, r, site):
        assert re.search(r"5 files, .*: 4 new, 1 duplicates", r.stdout), r
        self.expected = self._new(self.after)       # walk order is name order here
        assert [v[1] for v in self.expected] == self.NAMES
        if self.fault.action == "kill":
            assert sum(1 for t in self.trace if t[0] == "sql-commit") >= 4   # several commits

    def _new(self, now):
        return sorted((v for k, v in now.items() if k not in self.before), key=lambda v: v[1])

    def interrupted(self, site, now):
        new = self._new(now)
        assert new == self.expected[:len(new)], [v[1] for v in new]   # a prefix of whole records

    def complete(self, site, now, state):
        return self._new(now) == self.expected

    def again(self, site, was, r, state):
        assert_ok(r)
        done = len(self._new(was))
        assert "5 files" in r.stdout and f": {4 - done} new, {1 + done} duplicates" in r.stdout, r
        assert self._new(checked_contents(site)) == self.expected   # each file once


# --- bundle export -------------------------------------------------------------------------------

class ExportSweep(Sweep):
    """The archive's records never change; the bundle exists complete (and imports) or
    not at all, and a bundle the index records as sent always exists."""

    name = "export"
    BUNDLE = "to-archive.tmy"

    def __init__(self, world, servers, tmp, **kw) -> None:
        super().__init__(world.field, servers, tmp, **kw)
        self.world = world

    def argv(self, site):
        return ["bundle", "export", "--to", "archive", "--out", site.root / "out" / self.BUNDLE]

    def learn(self, r, site):
        assert len(self.after_summary["sent"] - self.before_summary["sent"]) == 1
        self.imported = self.import_into_archive(site)

    def import_into_archive(self, site: Site) -> dict:
        receiver = self.world.archive.clone(site.root / "receiver")
        try:
            with receiver.open() as a:
                result = a.import_bundle(site.root / "out" / self.BUNDLE)
            assert result.new_records == len(self.before)
            found = checked_contents(receiver)
            assert {k: found.get(k) for k in self.before} == self.before   # every record, readable
            return found
        finally:
            shutil.rmtree(receiver.root)

    def interrupted(self, site, now):
        assert now == self.before
        out = site.root / "out"
        bundle = out / self.BUNDLE
        partial = {p.name for p in out.iterdir() if p.name != self.BUNDLE}
        assert all(re.fullmatch(r"\.to-archive\.tmy\.[0-9a-f]{16}\.partial", n) for n in partial), partial
        sent = summary(site)["sent"] - self.before_summary["sent"]
        if bundle.exists():
            assert self.import_into_archive(site) == self.imported   # complete, never half
        else:
            assert not sent, "the index says a bundle was sent that does not exist"
        return bundle.exists(), partial

    def what_happened(self, site, now, state):
        return "bundle written" if state[0] else "no bundle"

    def complete(self, site, now, state):
        return state[0]

    def again(self, site, was, r, state):
        existed, partial = state
        out = site.root / "out"
        if existed:   # complete already: the same command refuses to overwrite it, and says so
            assert_one_error(r, "already exists", "nothing was overwritten")
        else:
            assert_ok(r)
            assert self.import_into_archive(site) == self.imported
        # Only the faulted run's partial file (if any) beside the bundle: none of this run's.
        assert {p.name for p in out.iterdir()} == {self.BUNDLE} | partial
        assert checked_contents(site) == self.before


# --- bundle import -------------------------------------------------------------------------------

class ImportSweep(Sweep):
    """Nothing of the bundle or all of it; importing again completes (or is a no-op)."""

    name = "import"
    KEYS = ("records", "objects", "received")

    def __init__(self, world, servers, tmp, **kw) -> None:
        super().__init__(world.archive, servers, tmp, **kw)
        sender = world.field.clone(tmp / "sender")
        with sender.open() as a:
            a.export_bundle(["archive"], tmp / "from-field.tmy")
        self.bundle = tmp / "from-field.tmy"

    def argv(self, site):
        return ["bundle", "import", self.bundle]

    def learn(self, r, site):
        assert "4 new records" in r.stdout, r

    def _state(self, s: dict) -> dict:
        return {k: s[k] for k in self.KEYS}

    def interrupted(self, site, now):
        state = self._state(summary(site))
        assert state in (self._state(self.before_summary), self._state(self.after_summary)), "half an import"
        assert now in (self.before, self.after)

    def complete(self, site, now, state):
        return now == self.after

    def again(self, site, was, r, state):
        assert_ok(r)
        if was == self.after:
            assert "already imported" in r.stdout, r
        assert checked_contents(site) == self.after
        assert self._state(summary(site)) == self._state(self.after_summary)


SWEEPS = {"record": RecordSweep, "add": AddSweep, "export": ExportSweep, "import": ImportSweep}
