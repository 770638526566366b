"""Shared fixtures. Every test archive uses the `interactive` KDF profile, chosen here."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from archive.api import Archive

TEST_PASSPHRASE = "correct staple violet harbour 1947"
TEST_KDF = "interactive"


@pytest.fixture
def passphrase() -> str:
    return TEST_PASSPHRASE


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    """(archive home, keys folder) in a temporary folder, not yet created."""
    return tmp_path / "home", tmp_path / "keys"


@pytest.fixture
def archive(homes: tuple[Path, Path]):
    """A fresh, unlocked archive with a new identity (interactive KDF)."""
    home, keys = homes
    a = Archive.create(home, keys, name="Test field team", passphrase=TEST_PASSPHRASE, kdf=TEST_KDF)
    yield a
    a.close()


@pytest.fixture
def cli_env(homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs: temp home and keys, the test passphrase, no editor."""
    home, keys = homes
    env = {"TESTIMONY_HOME": str(home), "TESTIMONY_KEYS": str(keys),
           "TESTIMONY_PASSPHRASE": TEST_PASSPHRASE}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    return {**os.environ, **env}


# --- The secrets sweep (issue 6) ------------------------------------------------------------
# "Passphrases never in argv, logs, tracebacks or temp files." Every test report (captured
# stdout, stderr and log, and the failure text) is searched for the test passphrase, and so
# is the argv of every subprocess a test starts; a hit fails that test, with the secret
# redacted from what is shown. At the end of the session every regular file the suite wrote
# is searched too: pytest's basetemp (every tmp_path), this session's own temporary folder
# (TMPDIR is pointed at a fresh folder for the session, so "temp files" means exactly what
# the suite wrote through tempfile, in this process or its children) and the new entries
# named like the product's own temporary files (testimony-*: the editor's draft in
# /dev/shm, the demo's folder) in the system temporary folder and /dev/shm. Other new
# entries there are not read: other people's processes share those folders. A hit makes
# the session fail and names the files. The needles are the passphrase's
# UTF-8 bytes as typed, in NFC and in NFD.
#
# Under pytest-xdist (`make test` runs the suite on every core) each worker checks the
# reports and argv of the tests it runs, as above, and a leak fails that test there. The
# files are swept once, by the controller, after every worker has finished: a worker's
# basetemp lies under the controller's, and a worker uses the controller's private temporary
# folder (handed to it when it starts) instead of making its own. A worker hands what it
# found back with its results (`workeroutput`); the controller lists it and fails the run.

# Files the tests write the passphrase into on purpose; exactly these names are skipped:
# - pass.txt: --passphrase-file input, always `tmp_path / "pass.txt"` (tests/cli/test_leaks.py,
#   tests/cli/test_bad_input.py, tests/cli/test_init.py);
# - fake_editor.py: the $EDITOR stand-in of tests/cli/test_record.py, whose source holds the
#   passphrase as the needle it looks for in the editor's environment.
PASSPHRASE_FILE_NAMES = frozenset({"pass.txt", "fake_editor.py"})
REDACTED = "<the test passphrase>"
_ELLIPSIS = "..."
_SHORTENED_MIN = 4      # characters of the secret's head and of its tail, each, around "..."
_BLOCK = 4 << 20
# New entries of the shared temporary folders that are read: the product's own names
# (archive/editing.py, archive/demo.py), not other sessions' private folders.
_PRODUCT_TMP_PREFIX = "testimony-"
_OTHER_SESSIONS_PREFIX = "testimony-tests-"


def secret_forms(secret: str) -> list[bytes]:
    """The secret's UTF-8 bytes as typed, in NFC and in NFD (once each when they agree)."""
    return sorted({secret.encode("utf-8")} | {unicodedata.normalize(form, secret).encode("utf-8")
                                              for form in ("NFC", "NFD")})


def file_contains(path: str | os.PathLike, needles: list[bytes], *, block: int = _BLOCK) -> bool:
    """Whether any needle occurs in the file, read in blocks that overlap by a needle."""
    keep = max(map(len, needles)) - 1
    tail = b""
    with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as f:
        while chunk := f.read(block):
            data = tail + chunk
            if any(n in data for n in needles):
                return True
            tail = data[-keep:] if keep else b""
    return False


class _ReadableForAMoment:
    """Give our own file or folder u+r (u+rx for a folder) while we read it: tests make
    some unreadable on purpose. The mode is put back afterwards."""

    def __init__(self, path: str, mode: int) -> None:
        self.path, self.mode = path, mode

    def __enter__(self) -> None:
        extra = stat.S_IRUSR | (stat.S_IXUSR if stat.S_ISDIR(self.mode) else 0)
        os.chmod(self.path, stat.S_IMODE(self.mode) | extra)

    def __exit__(self, *exc: object) -> None:
        os.chmod(self.path, stat.S_IMODE(self.mode))


class SweepResult:
    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0
        self.seconds = 0.0
        self.leaks: list[str] = []
        self.unscanned: list[str] = []


def sweep_tree(root: str | os.PathLike, needles: list[bytes], result: SweepResult, *,
               allowed_names: frozenset[str] = PASSPHRASE_FILE_NAMES, block: int = _BLOCK) -> None:
    """Search every regular file under `root` (symlinks are not followed)."""
    uid = os.getuid()
    stack = [os.fspath(root)]
    while stack:
        path = stack.pop()
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        is_dir = stat.S_ISDIR(info.st_mode)
        if not (is_dir or stat.S_ISREG(info.st_mode)):
            continue  # symlinks (not followed), fifos, sockets, devices
        restore = None
        if not os.access(path, os.R_OK | (os.X_OK if is_dir else 0)):
            if info.st_uid != uid:
                result.unscanned.append(path)
                continue
            restore = _ReadableForAMoment(path, info.st_mode)
        try:
            if restore:
                restore.__enter__()
            if is_dir:
                stack.extend(os.path.join(path, name) for name in sorted(os.listdir(path)))
            else:
                result.files += 1
                result.bytes += info.st_size
                if os.path.basename(path) not in allowed_names and file_contains(path, needles, block=block):
                    result.leaks.append(path)
        except FileNotFoundError:
            pass
        except OSError:
            result.unscanned.append(path)
        finally:
            if restore:
                restore.__exit__()


class SecretSweep:
    """What the hooks below keep for one session; see the comment above."""

    def __init__(self, secret: str, *, allowed_names: frozenset[str] = PASSPHRASE_FILE_NAMES) -> None:
        self.needles = secret_forms(secret)
        self.texts = sorted({n.decode("utf-8") for n in self.needles}, key=len, reverse=True)
        self.allowed_names = allowed_names
        self.report_leaks: list[str] = []        # "nodeid (phase): where"
        self.argv_leaks: list[str] = []          # argv, redacted, not yet pinned on a test
        self.result: SweepResult | None = None
        self.basetemp: str | None = None
        self.private_tmp: str | None = None
        self.shared_before: dict[str, set[str]] = {}
        self._saved_tmp: tuple[str | None, str | None] | None = None
        self._real_popen_init = None
        self.is_worker = False

    # --- text --------------------------------------------------------------------------
    def in_text(self, text: str | bytes | None) -> bool:
        if not text:
            return False
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        return any(n in data for n in self.needles) or (
            isinstance(text, str) and bool(self._shortened(text)))

    def _shortened(self, text: str) -> list[tuple[int, int]]:
        """Spans where the secret is shown shortened, head...tail, as pytest's assertion
        messages show long strings ('correct stap... harbour 1947'): a leak of most of it."""
        spans = []
        for at in (m.start() for m in re.finditer(re.escape(_ELLIPSIS), text)):
            for secret in self.texts:
                before, after = text[max(0, at - len(secret)):at], text[at + 3:at + 3 + len(secret)]
                head = max((k for k in range(len(secret) + 1) if before.endswith(secret[:k])), default=0)
                tail = max((k for k in range(len(secret) + 1) if after.startswith(secret[len(secret) - k:])),
                           default=0)
                if min(head, tail) >= _SHORTENED_MIN and head + tail >= min(len(secret), 2 * _SHORTENED_MIN + 8):
                    spans.append((at - head, at + 3 + tail))
                    break
        return spans

    def redact(self, text: str) -> str:
        for start, end in reversed(self._shortened(text)):
            text = text[:start] + REDACTED + text[end:]
        for secret in self.texts:
            text = text.replace(secret, REDACTED)
        return text

    # --- argv --------------------------------------------------------------------------
    def _check_argv(self, args: Any) -> None:
        if isinstance(args, (str, bytes, os.PathLike)):
            args = [args]
        try:
            parts = [os.fsencode(a) if isinstance(a, (str, os.PathLike)) else bytes(a) for a in args]
        except TypeError:
            return
        if any(self.in_text(p) for p in parts):
            self.argv_leaks.append(self.redact(" ".join(p.decode("utf-8", "replace") for p in parts)))

    def watch_subprocesses(self) -> None:
        real = self._real_popen_init = subprocess.Popen.__init__
        sweep = self

        def __init__(popen, args, *more: Any, **kw: Any) -> None:
            sweep._check_argv(args)
            real(popen, args, *more, **kw)

        subprocess.Popen.__init__ = __init__  # type: ignore[method-assign]

    def stop_watching(self) -> None:
        if self._real_popen_init is not None:
            subprocess.Popen.__init__ = self._real_popen_init  # type: ignore[method-assign]
            self._real_popen_init = None

    # --- reports -----------------------------------------------------------------------
    def check_report(self, report: pytest.TestReport) -> None:
        """Fail this phase of the test if the passphrase is in its output, failure text or
        a subprocess's argv; redact it from what pytest will show."""
        # A report repeats the sections of the phases before it: look at this phase's own.
        where = [name for name, content in report.sections
                 if name.endswith(f" {report.when}") and self.in_text(content)]
        longrepr = report.longreprtext if report.longrepr is not None else ""
        if self.in_text(longrepr):
            where.append("the failure text")
        argv, self.argv_leaks = self.argv_leaks, []
        where += [f"the argv of a subprocess: {a}" for a in argv]
        if not where:
            return
        self.report_leaks += [f"{report.nodeid} ({report.when}): {w}" for w in where]
        report.sections = [(name, self.redact(content)) for name, content in report.sections]
        message = ("SECRETS SWEEP: the test passphrase appeared in " + "; ".join(where)
                   + " (shown here redacted)")
        report.longrepr = (self.redact(longrepr) + "\n\n" if longrepr else "") + message
        report.outcome = "failed"

    # --- files -------------------------------------------------------------------------
    def start(self, config: pytest.Config) -> None:
        factory = getattr(config, "_tmp_path_factory", None)
        if factory is not None:  # fixed now, under the real temporary folder, before TMPDIR moves
            self.basetemp = str(factory.getbasetemp())
        handed = getattr(config, "workerinput", {}).get(_WORKER_TMP_KEY)
        if handed:  # an xdist worker: the controller's folder, swept by the controller
            self.is_worker = True
            self.private_tmp = handed
        else:
            shared = tempfile.gettempdir()
            self.shared_before = {folder: set(_names(folder)) for folder in {shared, "/dev/shm"}
                                  if os.path.isdir(folder)}
            self.private_tmp = tempfile.mkdtemp(prefix="testimony-tests-", dir=shared)
        self._saved_tmp = (os.environ.get("TMPDIR"), tempfile.tempdir)
        os.environ["TMPDIR"] = self.private_tmp
        tempfile.tempdir = self.private_tmp

    def finish(self) -> SweepResult:
        if self._saved_tmp is not None:
            saved_env, tempfile.tempdir = self._saved_tmp
            if saved_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved_env
            self._saved_tmp = None
        if self.argv_leaks:  # a subprocess started after the last test's report
            self.report_leaks += [f"(after the last test): the argv of a subprocess: {a}"
                                  for a in self.argv_leaks]
            self.argv_leaks = []
        if self.is_worker:
            return SweepResult()  # the files are the controller's to sweep
        result = self.result = SweepResult()
        started = time.perf_counter()
        roots = [r for r in (self.basetemp, self.private_tmp) if r]
        uid = os.getuid()
        for folder, before in self.shared_before.items():
            for name in sorted(set(_names(folder)) - before):
                path = os.path.join(folder, name)
                try:
                    mine = os.lstat(path).st_uid == uid
                except FileNotFoundError:
                    continue
                if (mine and name.startswith(_PRODUCT_TMP_PREFIX)
                        and not name.startswith(_OTHER_SESSIONS_PREFIX) and path not in roots):
                    roots.append(path)
        for root in roots:
            sweep_tree(root, self.needles, result, allowed_names=self.allowed_names)
        result.seconds = time.perf_counter() - started
        if self.private_tmp and not any(p.startswith(self.private_tmp + os.sep) for p in result.leaks):
            shutil.rmtree(self.private_tmp, ignore_errors=True)
        return result

    @property
    def failed(self) -> bool:
        return bool(self.report_leaks or (self.result and self.result.leaks))

    def summary_lines(self) -> list[str]:
        r = self.result
        lines = []
        if r is not None:
            lines.append(f"secrets sweep: {r.files} files ({r.bytes:,} bytes) written by this session "
                         f"(read in {r.seconds:.1f} s), every test's output and every subprocess's argv "
                         "searched for the test passphrase")
            lines += [f"PASSPHRASE IN FILE: {path}" for path in r.leaks]
            if r.unscanned:
                lines.append(f"could not read {len(r.unscanned)} entries: {', '.join(r.unscanned[:5])}")
        lines += [f"PASSPHRASE IN TEST OUTPUT: {leak}" for leak in self.report_leaks]
        return lines


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


_SWEEP = SecretSweep(TEST_PASSPHRASE)
_WORKER_TMP_KEY = "secrets_sweep_tmp"
_WORKER_LEAKS_KEY = "secrets_sweep_leaks"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    _SWEEP.start(config)
    _SWEEP.watch_subprocesses()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    _SWEEP.check_report(report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SWEEP.stop_watching()
    _SWEEP.finish()
    if _SWEEP.is_worker:
        session.config.workeroutput[_WORKER_LEAKS_KEY] = list(_SWEEP.report_leaks)
    if _SWEEP.failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# pytest-xdist's hooks: optional, so the suite also runs without the plugin.
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput[_WORKER_TMP_KEY] = _SWEEP.private_tmp


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    _SWEEP.report_leaks += getattr(node, "workeroutput", {}).get(_WORKER_LEAKS_KEY, [])


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = _SWEEP.summary_lines()
    if _SWEEP.failed:
        terminalreporter.write_sep("=", "SECRETS SWEEP FAILED: the test passphrase leaked", red=True, bold=True)
        for line in lines:
            terminalreporter.write_line(line, red=line.startswith("PASSPHRASE"))
    elif lines:
        terminalreporter.write_line(lines[0])
