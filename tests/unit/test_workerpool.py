"""The worker process pool: results and errors come back per job, only declared jobs
run, workers inherit no descriptor, hold no secret in argv, and never outlive the pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.errors import IntegrityError
from archive.workerpool import WorkerPool

SECRET = b"\x13" * 32


class Jobs:
    """A worker's state: picklable, importable by the worker (tests is a package)."""

    JOBS = ("double", "fail", "pid", "fds", "secret_len", "die")

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def double(self, x):
        return 2 * x

    def fail(self, message):
        raise IntegrityError(message, hint="try again")

    def pid(self, _):
        return os.getpid()

    def fds(self, _):
        return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))

    def secret_len(self, _):
        return len(self.secret)

    def die(self, _):
        os.kill(os.getpid(), signal.SIGKILL)

    def not_a_job(self, _):
        return "should never run"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_results_come_back_in_order_of_submission():
    with WorkerPool(Jobs(SECRET), size=2) as pool:
        futures = [pool.submit("double", i) for i in range(200)]
        assert [f.result(timeout=30) for f in futures] == [2 * i for i in range(200)]
        assert pool.submit("secret_len", None).result(timeout=30) == 32


def test_both_workers_take_jobs():
    with WorkerPool(Jobs(SECRET), size=2) as pool:
        pids = {pool.submit("pid", None).result(timeout=30) for _ in range(50)}
        futures = [pool.submit("pid", None) for _ in range(200)]
        pids |= {f.result(timeout=30) for f in futures}
    assert len(pids) == 2 and os.getpid() not in pids


def test_an_error_in_a_job_is_raised_for_that_job_only():
    with WorkerPool(Jobs(SECRET), size=2) as pool:
        bad = pool.submit("fail", "chunk 3 does not match its id")
        good = pool.submit("double", 21)
        with pytest.raises(IntegrityError, match="chunk 3 does not match its id") as e:
            bad.result(timeout=30)
        assert e.value.hint == "try again"
        assert good.result(timeout=30) == 42


def test_only_declared_jobs_run():
    with WorkerPool(Jobs(SECRET), size=1) as pool:
        with pytest.raises(ValueError, match="not a job"):
            pool.submit("not_a_job", None)
        with pytest.raises(ValueError, match="not a job"):
            pool.submit("__init__", SECRET)


def test_workers_inherit_only_their_pipes(tmp_path):
    held = open(tmp_path / "archive.lock", "w")   # like the archive lock: must not leak
    try:
        os.set_inheritable(held.fileno(), True)    # even a descriptor marked inheritable
        with WorkerPool(Jobs(SECRET), size=1) as pool:
            fds = pool.submit("fds", None).result(timeout=30)
    finally:
        held.close()
    assert fds[:3] == [0, 1, 2] and len(fds) <= 4   # stdin, stdout, stderr, the listing itself


def test_the_secret_is_not_in_any_workers_command_line_or_environment(monkeypatch):
    monkeypatch.setenv("TESTIMONY_PASSPHRASE", "staple violet harbour 1947")
    with WorkerPool(Jobs(SECRET), size=2) as pool:
        pids = {pool.submit("pid", None).result(timeout=30) for _ in range(20)}
        for pid in pids:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            assert SECRET not in cmdline and SECRET.hex().encode() not in cmdline
            environ = open(f"/proc/{pid}/environ", "rb").read()
            assert SECRET not in environ and SECRET.hex().encode() not in environ
            assert b"staple violet harbour" not in environ and b"TESTIMONY_PASSPHRASE" not in environ


def test_workers_exit_when_the_pool_closes():
    with WorkerPool(Jobs(SECRET), size=2) as pool:
        pids = {pool.submit("pid", None).result(timeout=30) for _ in range(20)}
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(p) for p in pids)


def test_a_worker_that_dies_fails_its_job_and_the_pool_still_closes():
    with WorkerPool(Jobs(SECRET), size=1) as pool:
        with pytest.raises(RuntimeError, match="worker process stopped"):
            pool.submit("die", None).result(timeout=30)
        with pytest.raises(RuntimeError, match="worker process stopped"):
            pool.submit("double", 1).result(timeout=30)


def test_closing_cancels_jobs_not_started():
    pool = WorkerPool(Jobs(SECRET), size=1)
    futures = [pool.submit("double", i) for i in range(2000)]
    pool.close()
    assert all(f.done() for f in futures)
    assert any(f.cancelled() for f in futures)
    done = [f for f in futures if not f.cancelled()]
    assert all(f.result() == 2 * futures.index(f) for f in done)


@pytest.mark.parametrize("module", ["archive.rehashing", "archive.receiving", "archive.sealing"])
def test_a_workers_module_does_not_import_sqlite(module):
    """Each worker imports its state's module: without SQLite (and sqlite-utils) a worker
    starts in about half the time (benchmarks/README.md, 2026-12-07)."""
    code = (f"import sys; import {module}; "
            "sys.exit(sorted(m for m in sys.modules if m.startswith(('sqlite3', 'sqlite_utils'))) != [])")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0
