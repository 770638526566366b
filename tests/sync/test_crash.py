"""kill -9 during `bundle import`: afterwards the store checks out, the archive holds
nothing from the bundle or all of it, and importing again completes.

Each run is a real `python -m cli bundle import` process. Failpoints make the kill land
at a chosen step (mid-read, mid-staging, after the pack is renamed into the store, inside
the index transaction, after the commit); timed kills add a few points nobody chose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from .conftest import REPO

CHILD = r"""
import os, signal, sys
point, nth, workers, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
import archive.bundle, archive.index, archive.receiving, archive.store, archive.workerpool
if workers == "processes":   # this small bundle would otherwise stay on one thread
    archive.receiving.PROCESS_THRESHOLD = 0
calls = [0]

def patch(owner, name, *, before):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if before:
            calls[0] += 1
            if calls[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if not before:
            calls[0] += 1
            if calls[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapper)

where = {
    "reading": (archive.bundle._PlainStream, "_pull", True),
    "staging": (archive.store.PackWriter, "add", False),
    "pack-renamed": (archive.store.PackWriter, "close", False),
    "in-transaction": (archive.index.Index, "mark_held", False),
    "committed": (archive.index.Index, "received_from", True),
    "worker-jobs": (archive.workerpool.WorkerPool, "submit", False),
}[point]
patch(where[0], where[1], before=where[2])
sys.argv = ["testimony", *argv]
from cli.main import main
main()
"""


@pytest.fixture(scope="module")
def crash(world_template, tmp_path_factory):
    """A bundle of a few MB from field to archive; archive's state before and after a
    clean import of it."""
    root = tmp_path_factory.mktemp("crash")
    w = world_template.clone(root / "w")
    files = []
    for i in range(4):
        path = root / f"video-{i}.bin"
        path.write_bytes(os.urandom(800_000 + i))
        files.append(path)
    with w["field"].open() as f:
        f.record(fields={"title": "Before the raid", "body": "Filmed from the roof.\n"},
                 attachments=files[:1], to=["archive"])
        f.add(files[1:], to=["archive"])
        f.export_bundle(["archive"], root / "big.tmy")
    bundle = root / "big.tmy"
    assert bundle.stat().st_size > 3_000_000
    before = w["archive"].summary()
    ref = world_template.clone(root / "ref")
    with ref["archive"].open() as a:
        r = a.import_bundle(bundle)
        assert r.new_records == 4
    after = ref["archive"].summary()
    assert after["records"] - before["records"] and after["custody"] > before["custody"]
    return SimpleNamespace(bundle=bundle, before=before, after=after, template=world_template)


def _check_and_reimport(ns, site):
    """Recovery on open; the store checks; nothing or everything; importing again completes."""
    with site.open() as a:
        report = a.check(read_data=True)
        assert report.ok, report.problems
        assert list((site.home / "tmp").iterdir()) == []
    state = site.summary()
    assert state in (ns.before, ns.after), {k: (len(v) if isinstance(v, set) else v)
                                            for k, v in state.items()}
    with site.open() as a:
        r = a.import_bundle(ns.bundle)
        assert r.already_imported == (state == ns.after)
        assert a.check(read_data=True).ok and a.verify().ok
    assert site.summary() == ns.after


def _worker_processes() -> set[int]:
    """Pids of import worker processes alive on this machine (the suite runs serially)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"archive.workerpool import serve" in cmdline:
                found.add(int(entry))
    return found


def _no_orphaned_workers(before: set[int]) -> None:
    """Workers whose parent was killed see their pipe close and exit on their own."""
    deadline = time.monotonic() + 10
    while _worker_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _worker_processes() - before


@pytest.mark.parametrize("point, nth, workers", [
    ("reading", 1, "thread"), ("reading", 20, "thread"), ("staging", 1, "thread"),
    ("staging", 3, "thread"), ("pack-renamed", 1, "thread"), ("in-transaction", 1, "thread"),
    ("committed", 1, "thread"),
    ("worker-jobs", 1, "processes"), ("worker-jobs", 2, "processes"), ("staging", 3, "processes"),
    ("in-transaction", 1, "processes"),
])
def test_kill_during_import_at_failpoint(crash, tmp_path, point, nth, workers):
    site = crash.template.clone(tmp_path / "w")["archive"]
    before = _worker_processes()
    p = subprocess.run([sys.executable, "-c", CHILD, point, str(nth), workers, "bundle", "import",
                        str(crash.bundle)], env=site.env, cwd=REPO, capture_output=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout, p.stderr)
    _no_orphaned_workers(before)
    _check_and_reimport(crash, site)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.08, 0.2])
def test_kill_during_import_after_delay(crash, tmp_path, delay):
    """SIGKILL `delay` seconds after the import starts writing its staging pack."""
    site = crash.template.clone(tmp_path / "w")["archive"]
    tmp = site.home / "tmp"
    p = subprocess.Popen([sys.executable, "-m", "cli", "bundle", "import", str(crash.bundle)],
                         env=site.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while p.poll() is None and not any(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    _check_and_reimport(crash, site)
