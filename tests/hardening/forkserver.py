"""Run the real `testimony` command line many times, fast, with failpoints.

`python -m tests.hardening.forkserver` imports the command line once, then reads one job
per line (JSON) on stdin and answers one line per job. Each job runs in a fresh
`os.fork()` of that interpreter: a real process that runs `cli.main.main()` exactly as
`python -m cli` would (same argv, environment, exit codes), minus the ~0.4 s of imports.
The kill is a real SIGKILL of that process, so the kernel closes its files and releases
its lock as after any crash.

Failpoints: every call that changes a file under the job's `roots` is counted —
opening for writing, each raw `write` (file objects are given an unbuffered counting
FileIO under the usual buffer, so each count is one write(2)), `fsync`/`fdatasync`,
`rename`/`replace`, `link`, `unlink`, `mkdir`, `rmdir`, `truncate`, and on the SQLite
index every COMMIT, every write statement outside a transaction, and the connection's
close (where SQLite checkpoints its WAL). At the `at`-th counted call of the chosen
kinds the process SIGKILLs itself *before* the call, or (action "raise") the call
raises OSError(errno) as a full or read-only disk would, or (action "stall") the process
waits there, holding whatever it holds, until the test releases it. A job without `at`
only counts. Either way its trace (kind and file of every point) is written to `trace`.
"""

from __future__ import annotations

import errno as errno_mod
import io
import json
import os
import re
import signal
import sqlite3
import sys
import time
import traceback

WRITE_MODES = re.compile(r"[wxa+]")
SQL_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.I)


class Failpoints:
    def __init__(self, job: dict) -> None:
        self.roots = [os.path.realpath(r) for r in job["roots"]]
        self.at = job.get("at")
        self.kinds = set(job.get("kinds") or ())
        self.action = job.get("action", "kill")
        self.errno = job.get("errno", errno_mod.ENOSPC)
        self.stall = job.get("stall")   # (flag written when stalled, file that releases)
        self.count = 0
        self.trace: list[tuple[str, str]] = []

    def _where(self, path) -> str | None:
        if isinstance(path, int):
            try:
                path = os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                return None
        try:
            path = os.fsdecode(path)
        except TypeError:
            return None
        full = os.path.realpath(path)
        for i, root in enumerate(self.roots):
            if full == root or full.startswith(root + os.sep):
                return f"{i}:{os.path.relpath(full, root)}"
        return None

    @staticmethod
    def _full(paths) -> str | None:
        """The name an OSError of the real call would carry (None for a descriptor)."""
        for path in paths:
            if not isinstance(path, int):
                try:
                    return os.fsdecode(path)
                except TypeError:
                    pass
        return None

    def point(self, kind: str, *paths) -> None:
        where = next((w for w in map(self._where, paths) if w is not None), None)
        if where is None or (self.kinds and kind not in self.kinds):
            return
        self.count += 1
        self.trace.append((kind, where))
        if self.count == self.at:
            if self.action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.action == "stall":   # hold here (and the archive's lock) until released
                with io.FileIO(self.stall[0], "w"):
                    pass
                deadline = time.monotonic() + 60
                while not os.path.exists(self.stall[1]) and time.monotonic() < deadline:
                    time.sleep(0.005)
                return
            raise OSError(self.errno, os.strerror(self.errno), self._full(paths))

    def install(self) -> None:
        fp = self
        real = {name: getattr(os, name) for name in (
            "open", "write", "fsync", "fdatasync", "replace", "rename", "link", "unlink",
            "remove", "mkdir", "rmdir", "truncate", "ftruncate")}

        def os_open(path, flags, mode=0o777, *, dir_fd=None):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
                fp.point("open", path)
            return real["open"](path, flags, mode, dir_fd=dir_fd)

        def wrap(name, kind, npaths=1):
            def wrapper(*args, **kwargs):
                fp.point(kind, *args[:npaths])
                return real[name](*args, **kwargs)
            return wrapper

        os.open = os_open
        os.write = wrap("write", "write")
        os.fsync = wrap("fsync", "fsync")
        os.fdatasync = wrap("fdatasync", "fsync")
        os.replace = wrap("replace", "rename", 2)
        os.rename = wrap("rename", "rename", 2)
        os.link = wrap("link", "link", 2)
        os.unlink = wrap("unlink", "unlink")
        os.remove = wrap("remove", "unlink")
        os.mkdir = wrap("mkdir", "mkdir")
        os.rmdir = wrap("rmdir", "rmdir")
        os.truncate = wrap("truncate", "write")
        os.ftruncate = wrap("ftruncate", "write")

        class CountingFileIO(io.FileIO):
            def write(self, b):
                fp.point("write", self.fileno())
                return super().write(b)

        real_io_open = io.open

        def counting_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
                          closefd=True, opener=None):
            if not WRITE_MODES.search(mode) or "b" not in mode:
                if WRITE_MODES.search(mode):   # (text files: the open is counted, not each write)
                    fp.point("open", file)
                return real_io_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            if not isinstance(file, int):
                fp.point("open", file)
            raw = CountingFileIO(file, mode.replace("b", ""), closefd=closefd, opener=opener)
            if buffering == 0:
                return raw
            size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
            return (io.BufferedRandom if "+" in mode else io.BufferedWriter)(raw, size)

        io.open = counting_open
        import builtins
        builtins.open = counting_open

        real_connect = sqlite3.connect

        class CountingConnection(sqlite3.Connection):
            def close(self):
                fp.point("sql-close", self._path)
                return super().close()

        def connect(database, *args, **kwargs):
            kwargs.setdefault("factory", CountingConnection)
            conn = real_connect(database, *args, **kwargs)
            conn._path = os.fspath(database)

            def trace(statement: str) -> None:
                head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
                if head in ("COMMIT", "END"):
                    fp.point("sql-commit", conn._path)
                elif SQL_WRITE.match(statement) and not conn.in_transaction:
                    fp.point("sql-write", conn._path)
            conn.set_trace_callback(trace)
            return conn

        sqlite3.connect = connect


def drop_dac_override() -> None:
    """Make this process obey file modes even as root: clear CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from its capability sets (nothing to do for other users)."""
    if os.geteuid() != 0:
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()   # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF             # DAC_OVERRIDE, DAC_READ_SEARCH
    data[0].effective &= keep
    data[0].permitted &= keep
    data[0].inheritable &= keep
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def run_job(job: dict) -> int:
    """In the forked child: the command line, as `python -m cli ARGV` would run it."""
    os.chdir(job.get("cwd") or os.getcwd())
    for key in [k for k in os.environ if k.startswith("TESTIMONY_") or k in ("EDITOR", "VISUAL")]:
        del os.environ[key]
    os.environ.update(job.get("env") or {})
    for target, (name, flags) in {0: (job.get("stdin") or os.devnull, os.O_RDONLY),
                                  1: (job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                  2: (job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)}.items():
        fd = os.open(name, flags, 0o600)
        os.dup2(fd, target)
        os.close(fd)
    for key, value in (job.get("knobs") or {}).items():   # e.g. archive.constants.PACK_TARGET_BYTES
        module, attr = key.rsplit(".", 1)
        __import__(module)
        setattr(sys.modules[module], attr, value)
    if job.get("obey_modes"):
        drop_dac_override()
    import tempfile
    tempfile.tempdir = None   # follow this job's TMPDIR, not one the server looked up
    fp = Failpoints(job)
    fp.install()
    sys.argv = ["testimony", *job["argv"]]
    from cli.main import main
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if job.get("trace"):
        with io.FileIO(job["trace"], "w") as f:  # not counted: a plain FileIO
            f.write(json.dumps(fp.trace).encode())
    return code


def _memoize_argon2id() -> None:
    """Argon2id remembers its results in this server, so children forked after a `warm`
    job skip the ~0.2 s derivation for that key file (a miss derives for real, and the
    parameter bounds are checked first as always). The same shortcut as the in-process
    CLI tests' (tests/cli/helpers.unsafe_memoized_argon2id); Argon2id itself is checked
    by tests/unit and tests/vectors, and the fresh `python -m cli` runs of these tests
    derive for real."""
    import archive.crypto
    real, memo = archive.crypto.argon2id, {}

    def argon2id(passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int) -> bytes:
        key = (bytes(passphrase), bytes(salt), opslimit, memlimit)
        if key not in memo:
            memo[key] = real(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
        return memo[key]
    archive.crypto.argon2id = argon2id


def serve() -> None:
    import cli.main  # noqa: F401  (everything the command line imports, once)
    import archive.workerpool  # noqa: F401
    from pathlib import Path
    from archive.api import passphrase_bytes
    from archive.keys import load_secret_keys
    _memoize_argon2id()
    out = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        if "warm" in job:   # derive a key file's key here, once, for every later child
            keys_dir, passphrase = job["warm"]
            load_secret_keys(Path(keys_dir), passphrase_bytes(passphrase))
            out.write(json.dumps({"returncode": 0}) + "\n")
            out.flush()
            continue
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = run_job(job)
            except BaseException:
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
