"""Helpers shared by tests/cli and tests/adversarial: run `testimony` and judge its output.

`CliHome` is one archive home + keys folder with its own environment, so module-scoped
fixtures can share an archive without monkeypatching. `main()` runs the real entry point
(`cli.main.main`, with its error handling) in-process through click's CliRunner
isolation; `run()` runs `python -m cli` as a real subprocess.
"""

from __future__ import annotations

from archive import constants as C

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner

from archive.api import Archive
from cli.main import main as cli_main

from ..conftest import TEST_KDF, TEST_PASSPHRASE

REPO = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.exit_code, self.stdout, self.stderr = code, out, err

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"Result(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without anything that could change how testimony behaves."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TESTIMONY_") and k not in ("EDITOR", "VISUAL")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def assert_error(result: Result, *fragments: str, hint: str | None = None,
                 stdout_empty: bool = True) -> str:
    """Exit 1, exactly one `Error: …` line (and at most one `Hint: …`) on stderr, no
    traceback, not our catch-all for bugs; every fragment in the error line."""
    assert result.exit_code == 1, result
    assert "Traceback" not in result.output, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result
    assert lines[0].startswith("Error: "), result
    assert "unexpected" not in lines[0], f"a bug reached the catch-all: {result}"
    if len(lines) == 2:
        assert lines[1].startswith("Hint: "), result
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], result
    if stdout_empty:
        assert result.stdout == "", result
    return lines[0]


def assert_ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output and "Error" not in result.stderr, result
    return result


class CliHome:
    """An archive home and keys folder under `root`, and ways to run testimony on them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.home, self.keys = self.root / "home", self.root / "keys"
        self.env = clean_env(TESTIMONY_HOME=str(self.home), TESTIMONY_KEYS=str(self.keys),
                             TESTIMONY_PASSPHRASE=TEST_PASSPHRASE)

    # --- set-up ---------------------------------------------------------------------------
    def create(self, name: str = "CLI test team") -> "CliHome":
        """A new archive through the library (faster than `init` as a process)."""
        Archive.create(self.home, self.keys, name=name, passphrase=TEST_PASSPHRASE,
                       kdf=TEST_KDF).close()
        return self

    def copy_of(self, template: "CliHome") -> "CliHome":
        """This home as a copy of `template`'s archive and keys (cheaper than creating one)."""
        shutil.copytree(template.home, self.home, symlinks=True)
        shutil.copytree(template.keys, self.keys, symlinks=True)
        return self

    def open(self) -> Archive:
        a = Archive(self.home, self.keys)
        a.unlock(TEST_PASSPHRASE)
        return a

    # --- running ----------------------------------------------------------------------------
    def _env(self, env: dict[str, str | None] | None, drop: tuple[str, ...]) -> dict[str, str]:
        merged = {**self.env, **(env or {})}
        return {k: v for k, v in merged.items() if v is not None and k not in drop}

    def main(self, *args: str, input: bytes | str | None = None,
             env: dict[str, str | None] | None = None, drop: tuple[str, ...] = ()) -> Result:
        """In-process, through the real entry point and its error handling."""
        wanted = self._env(env, drop)
        overrides: dict[str, str | None] = {k: None for k in os.environ if k not in wanted}
        overrides.update(wanted)
        runner = CliRunner()
        old_argv = sys.argv
        with runner.isolation(input=input, env=overrides) as (out, err, _):
            sys.argv = ["testimony", *args]
            code = 0
            try:
                cli_main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            finally:
                sys.argv = old_argv
                sys.stdout.flush()
                sys.stderr.flush()
            return Result(code, out.getvalue().decode("utf-8", "replace"),
                          err.getvalue().decode("utf-8", "replace"))

    def run(self, *args: str | bytes, input: bytes | str | None = None,
            env: dict[str, str | None] | None = None, drop: tuple[str, ...] = (),
            timeout: float = 60, **kwargs) -> Result:
        """As a real subprocess of `python -m cli` (bytes arguments allowed)."""
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run([sys.executable, "-m", "cli", *args], input=data, capture_output=True,
                           env=self._env(env, drop), timeout=timeout, cwd=REPO, **kwargs)
        return Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                      p.stderr.decode("utf-8", "replace"))

    # --- looking inside ---------------------------------------------------------------------
    def db(self) -> closing[sqlite3.Connection]:
        return closing(sqlite3.connect(self.home / "archive.db", isolation_level=None))

    def record_ids(self) -> list[str]:
        with self.db() as db:
            return [r[0] for r in db.execute("SELECT id FROM records ORDER BY id")]

    def objects(self, kind: str | None = None) -> list[tuple[bytes, str, int, int, str]]:
        """(id, pack, offset, length, kind) rows of the index."""
        with self.db() as db:
            rows = db.execute("SELECT id, pack, offset, length, kind FROM objects ORDER BY pack, offset")
            return [tuple(r) for r in rows if kind is None or r[4] == kind]

    def pack_path(self, pack_id: str) -> Path:
        return self.home / "packs" / pack_id[:2] / pack_id

    def packs(self) -> list[Path]:
        """The packs holding records and evidence (not the index journal's own packs)."""
        return [p for p in self.all_packs() if not self.is_journal_pack(p)]

    def all_packs(self) -> list[Path]:
        return sorted(p for p in (self.home / "packs").glob("*/*") if p.is_file())

    @staticmethod
    def is_journal_pack(path: Path) -> bool:
        first_object = len(C.PACK_MAGIC) + 32 + 4
        with open(path, "rb") as f:
            f.seek(first_object)
            return f.read(len(C.JOURNAL_MAGIC)) == C.JOURNAL_MAGIC

    def tmp_files(self) -> list[Path]:
        return sorted((self.home / "tmp").iterdir())

    def snapshot(self) -> dict[str, str]:
        """SHA-256 of every file under home and keys (except the lock file)."""
        result = {}
        for base in (self.home, self.keys):
            for path in walk_files(base):
                if path.name != "lock":
                    result[str(path.relative_to(self.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        return result


def walk_files(base: Path) -> Iterator[Path]:
    if not base.exists():
        return
    for folder, _, files in os.walk(base):
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def write_text_file(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def run_in_pty(args: list[str], env: dict[str, str], *, answers: list[tuple[bytes, bytes]] = (),
               timeout: float = 60) -> tuple[int, bytes]:
    """Run `python -m cli ARGS` on a new pseudo-terminal (its controlling terminal, so
    getpass prompts on it and stdin is a tty). For each (expected, answer), wait until
    `expected` has been printed, then type `answer`. Return (exit code, everything printed)."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # child: become `testimony` on the terminal
        try:
            os.chdir(REPO)
            os.execve(sys.executable, [sys.executable, "-m", "cli", *args], env)
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + timeout

    def read_some() -> bool:
        nonlocal output
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"no output from the terminal; so far: {output!r}")
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        output += data
        return bool(data)

    try:
        pos = 0
        for expected, answer in answers:
            while expected not in output[pos:]:
                if not read_some():
                    raise AssertionError(f"waited for {expected!r}, got {output!r}")
            pos = output.index(expected, pos) + len(expected)
            os.write(fd, answer)
        while read_some():
            pass
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output


# --- a test-only shortcut ---------------------------------------------------------------------

_ARGON2_RESULTS: dict[tuple[bytes, bytes, int, int], bytes] = {}


def unsafe_memoized_argon2id(real):
    """Argon2id that remembers its results within this test process.

    Archives copied from one template share a salt, so in-process commands would derive
    the same key hundreds of times (~0.1 s each). The first derivation per (passphrase,
    salt, parameters) is real, a wrong passphrase still derives (and fails) for real, the
    parameter bounds are still checked first, and every subprocess run derives for real.
    Argon2id itself is checked by tests/unit and tests/vectors.
    """
    def argon2id(passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int) -> bytes:
        key = (bytes(passphrase), bytes(salt), opslimit, memlimit)
        if key not in _ARGON2_RESULTS:
            _ARGON2_RESULTS[key] = real(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
        return _ARGON2_RESULTS[key]
    return argon2id
