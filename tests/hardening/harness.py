"""Shared pieces of the hardening tests: the fork server client, sites (an archive home
and its keys), and the checks every test makes after something went wrong."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from archive.api import Archive

from ..cli.helpers import assert_error, assert_ok, clean_env  # noqa: F401  (assert_ok: used by the tests)
from ..conftest import TEST_KDF, TEST_PASSPHRASE

REPO = Path(__file__).resolve().parents[2]
RAM = Path("/dev/shm")   # a RAM-backed folder, on most Linux systems


# --- sites ------------------------------------------------------------------------------------

class Site:
    """An archive home and keys folder under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.home, self.keys = self.root / "home", self.root / "keys"

    @property
    def env(self) -> dict[str, str]:
        return {"TESTIMONY_HOME": str(self.home), "TESTIMONY_KEYS": str(self.keys),
                "TESTIMONY_PASSPHRASE": TEST_PASSPHRASE}

    def create(self, name: str) -> "Site":
        Archive.create(self.home, self.keys, name=name, passphrase=TEST_PASSPHRASE, kdf=TEST_KDF).close()
        return self

    def clone(self, dest: Path) -> "Site":
        shutil.copytree(self.root, dest, symlinks=True)
        return Site(dest)

    @contextmanager
    def open(self) -> Iterator[Archive]:
        a = Archive(self.home, self.keys)
        try:
            a.unlock(TEST_PASSPHRASE)
            yield a
        finally:
            a.close()

    def db(self):
        return closing(sqlite3.connect(self.home / "archive.db", isolation_level=None))

    def tmp_files(self) -> list[str]:
        return sorted(p.name for p in (self.home / "tmp").iterdir())


def contents(a: Archive) -> dict[str, tuple]:
    """Every record, opened and its signature checked: id → (kind, title, body, attachments)."""
    result = {}
    for summary in a.list_records():
        view = a.show(summary.record_id)
        result[summary.record_id] = (
            view.statement["kind"], view.fields.get("title", ""), view.fields.get("body", ""),
            tuple(sorted((x["name"], x["sha256"], x["size"]) for x in view.attachments)))
    return result


def checked_contents(site: Site) -> dict[str, tuple]:
    """Open the site (recovering from whatever happened), and require that the store and
    every record check out and that nothing is left in tmp/; return its contents."""
    with site.open() as a:
        assert site.tmp_files() == [], site.tmp_files()
        assert not (site.home / "import.pending").exists()
        report = a.check(read_data=True)
        assert report.ok, report.problems
        verified = a.verify()
        assert verified.ok, [(r.record_id[:16], r.problems) for r in verified.failed]
        found = contents(a)
    assert len(verified.records) == len(found)
    return found


# --- results ----------------------------------------------------------------------------------

@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    trace: list = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def assert_one_error(r: Result, *fragments: str) -> str:
    """tests/cli's one-error-line check; a hardening command may have printed progress."""
    return assert_error(r, *fragments, stdout_empty=False)


# --- the fork server --------------------------------------------------------------------------

class ForkServer:
    """One `python -m tests.hardening.forkserver`; `run` is one forked CLI process."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hardening.forkserver"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
                                     env=clean_env(), text=True)
        self._lock = threading.Lock()
        self._n = 0

    def run(self, argv: list[str], *, env: dict[str, str], roots: list[Path], at: int | None = None,
            kinds: list[str] | None = None, action: str = "kill", errno: int | None = None,
            knobs: dict | None = None, stdin: Path | None = None, obey_modes: bool = False,
            stall: tuple[Path, Path] | None = None) -> Result:
        with self._lock:
            self._n += 1
            base = self.scratch / f"job{self._n}"
            job = {"argv": [str(a) for a in argv], "env": env, "roots": [str(r) for r in roots],
                   "at": at, "kinds": kinds, "action": action, "knobs": knobs, "cwd": str(REPO),
                   "obey_modes": obey_modes, "stall": [str(p) for p in stall] if stall else None,
                   "stdin": str(stdin) if stdin else None, "stdout": f"{base}.out",
                   "stderr": f"{base}.err", "trace": f"{base}.trace"}
            if errno is not None:
                job["errno"] = errno
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            assert line, "the fork server died"
            code = json.loads(line)["returncode"]
        read = lambda p: Path(p).read_text("utf-8", "replace") if Path(p).exists() else ""  # noqa: E731
        trace = json.loads(read(job["trace"]) or "[]")
        result = Result(code, read(job["stdout"]), read(job["stderr"]), trace)
        for p in (job["stdout"], job["stderr"], job["trace"]):
            Path(p).unlink(missing_ok=True)
        return result

    def warm(self, site: Site) -> None:
        """Derive `site`'s key once in the server (copies of the site share its salt)."""
        with self._lock:
            self.proc.stdin.write(json.dumps({"warm": [str(site.keys), TEST_PASSPHRASE]}) + "\n")
            self.proc.stdin.flush()
            assert json.loads(self.proc.stdout.readline())["returncode"] == 0

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def pick_points(trace: list, limit: int, must: tuple[str, ...] = ()) -> list[int]:
    """Failpoints to fault at (1-based): all of them if there are at most `limit`; else the
    first and the last, every one of the kinds in `must`, and others spread evenly to
    make up `limit`."""
    total = len(trace)
    if total <= limit:
        return list(range(1, total + 1))
    chosen = {1, total} | {i + 1 for i, (kind, _) in enumerate(trace) if kind in must}
    rest = [i for i in range(1, total + 1) if i not in chosen]
    room = max(0, limit - len(chosen))
    if room and rest:
        step = len(rest) / room
        chosen |= {rest[int(k * step)] for k in range(room)}
    return sorted(chosen)


# --- private mount namespaces (tests/hardening/mountns.py) -----------------------------------

_NAMESPACES: list[bool] = []


def namespaces_available() -> bool:
    """Whether `unshare --user --map-root-user --mount` works on this machine."""
    if not _NAMESPACES:
        try:
            ok = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                                capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        _NAMESPACES.append(ok)
    return _NAMESPACES[0]


def in_mount_namespace(scenario: str, args: dict) -> dict:
    """Run a mountns.py scenario in a private user and mount namespace; its JSON result."""
    p = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-m",
                        "tests.hardening.mountns", scenario, json.dumps(args)],
                       capture_output=True, text=True, cwd=REPO, env=clean_env(), timeout=120)
    assert p.returncode == 0 and p.stdout, (p.returncode, p.stderr[-3000:])
    return json.loads(p.stdout)
