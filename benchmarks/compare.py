"""`testimony add` side by side with restic, borg and tar | age (issue 5), in one run.

    .venv/bin/python -m benchmarks.compare                        # ≈ 600 MB corpus, 3 rounds
    .venv/bin/python -m benchmarks.compare --scale 0.25 --rounds 5 --json compare.json
    make bench-compare

One deterministic evidence corpus (benchmarks/corpus.py: notes, photos, videos, 15%
exact duplicates; `--scale` multiplies its 600 MB) is measured by every tool in the
same run, interleaved over `--rounds` rounds (default 3). First, once: testimony's
start-up and unlock alone (a 1-byte `add` into a fresh archive), the floor under its
wall time and peak RSS. Then each round:

  1. fresh repositories, not timed: `testimony init --kdf interactive`, `restic init`,
     `borg init -e repokey`; age's key comes from `age-keygen`, once per run;
  2. reading the corpus from the page cache: `cat` of every file into /dev/null;
  3. new data, one tool after the other: `testimony add`, `restic backup` (compression
     off: the generated corpus is zstd-compressible as real media is not; `--peers
     restic-auto` adds restic's default), `borg create`, `tar -c | age -r` (into a file);
  4. nothing new, in the same order: each again into the same archive or repository.
     tar | age has no repository: a second run does all its work again, so it has no
     nothing-new row;
  5. the limit set by the primitives `add` uses, in this process on 1 MiB buffers, one
     thread and two threads: SHA-256 three times per new byte (file hash, chunk-key
     HMAC, chunk id) plus AES-256-GCM (`encrypt_into`, no allocation); SHA-256 once per
     byte for nothing new; and the same calls as `add` makes them today; and the
     ceiling DESIGN.md's formats set for `add` on this corpus: benchmarks/floor.py's
     add phase (every file hashed, every new one encrypted, signed and sealed as a
     record, in two processes, no I/O), beside which the targets' reachability is shown;
  6. the round's repositories are removed.

The order of the tools rotates by one each round (A B C, B C A, …) so that none always
runs first. The page cache is flushed (`sync`) before every timed run, so one tool's
write-back is not charged to the next. The corpus is read once before every timed run
(untimed, corpus.warm: this VM's host takes back page cache left idle), so every tool
reads it from the page cache: this compares the programs, not the disk they read from.

MB/s is corpus bytes over the wall time of the whole command (start-up, passphrase
derivation and fsyncs included), median over rounds; the spread across rounds is kept.
Peak RSS is each child's own ru_maxrss as GNU `/usr/bin/time -f %M` reports it (os.wait4
on the child only when time is missing: see run_pipeline); for tar | age the larger of
the two processes; the largest over rounds. `others` is how many cores other processes kept
busy meanwhile (the machine is shared). A tool that is not installed is skipped with a
note; a tool that fails is reported and the run goes on. No number ever fails the run:
the exit status is 1 only if `testimony` itself failed or miscounted.

Everything generated lives in one temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

if __package__ in (None, ""):  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.conftest import CpuMeter  # noqa: E402
from benchmarks.corpus import MB, MIB, Corpus, generate_corpus, warm  # noqa: E402

DEFAULT_MB = 600
PASSPHRASE = "benchmark staple violet harbour 1947"
RSS_TARGET_BYTES = 100 * MB
_PEER_VARIABLES = ("TESTIMONY_", "RESTIC_", "BORG_", "AGE_")


class ToolFailed(Exception):
    pass


def testimony_command() -> list[str]:
    """The venv's `testimony` script beside this interpreter, else `python -m cli`."""
    script = Path(sys.executable).parent / "testimony"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


# --- Running children --------------------------------------------------------------------

@dataclass
class Sample:
    """One timed run: wall seconds, peak RSS of each process (KiB), machine load."""

    seconds: float
    peak_rss_kib: list[int]
    others_cores: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 4), "peak_rss_kib": max(self.peak_rss_kib, default=0),
                "peak_rss_kib_each": self.peak_rss_kib, "others_cores": self.others_cores, **self.extra}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PEER_VARIABLES)}
    env.pop("EDITOR", None)
    env.update(extra)
    return env


TIME = "/usr/bin/time"


def run_pipeline(commands: Sequence[Sequence[str]], env: dict[str, str], cwd: Path, logs: Path,
                 *, stdout: Path | None = None) -> tuple[Sample, str]:
    """Run `a | b | …` without a shell; (sample, stdout of the last command).

    Peak RSS: each command runs under GNU `/usr/bin/time -f %M`, which forks it from a
    2 MiB process and reports its ru_maxrss. The ru_maxrss that os.wait4 returns for a
    child we spawn directly would be the larger of the child's peak and *this* process's
    RSS when it forked (Linux keeps the pre-exec high-water mark: ≈ 50 MiB here, more
    than cat, tar or age ever use), so it is only the fallback when time is missing.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path = stdout or logs / "stdout.txt"
    err_paths = [logs / f"stderr-{i}.txt" for i in range(len(commands))]
    rss_paths = [logs / f"rss-{i}.txt" for i in range(len(commands))]
    if os.access(TIME, os.X_OK):
        for path in rss_paths:
            path.unlink(missing_ok=True)
        commands = [[TIME, "-f", "%M", "-o", str(path), *command] for path, command in zip(rss_paths, commands)]
    processes: list[subprocess.Popen] = []
    meter = CpuMeter()
    started = time.perf_counter()
    with open(out_path, "wb") as out:
        errs = [open(p, "wb") for p in err_paths]
        try:
            previous = subprocess.DEVNULL
            for i, command in enumerate(commands):
                last = i == len(commands) - 1
                try:
                    processes.append(subprocess.Popen(
                        list(command), cwd=cwd, env=env, stdin=previous,
                        stdout=out if last else subprocess.PIPE, stderr=errs[i]))
                except OSError:
                    for started_process in processes:
                        started_process.kill()
                        started_process.wait()
                    raise
                if previous is not subprocess.DEVNULL:
                    previous.close()  # the next process holds it; it must see EOF/EPIPE alone
                previous = processes[-1].stdout if not last else None
        finally:
            for f in errs:
                f.close()
        statuses, rss = [], []
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            statuses.append(process.returncode)
            rss.append(usage.ru_maxrss)
    seconds = time.perf_counter() - started
    rss = [_time_rss(path, fallback) for path, fallback in zip(rss_paths, rss)]
    sample = Sample(seconds, rss, meter.others_cores())
    for command, code, err in zip(commands, statuses, err_paths):
        if code != 0:
            tail = err.read_text(errors="replace").strip()[-800:]
            shown = command[5:] if command[0] == TIME else command
            raise ToolFailed(f"`{shlex.join(shown)}` exited {code}: {tail}")
    return sample, (out_path.read_text(errors="replace") if stdout is None else "")


def _time_rss(path: Path, fallback: int) -> int:
    """The %M (KiB) that /usr/bin/time wrote, its last line; else wait4's figure."""
    try:
        return int(path.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return fallback


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


# --- The tools ---------------------------------------------------------------------------

class Peer:
    """A tool measured on the corpus: a fresh repository, new data, then nothing new."""

    name = ""
    new_label = ""
    again_label = ""
    programs: tuple[str, ...] = ()
    package = ""               # the Debian package that provides `programs`
    again_note = ""            # why there is no nothing-new run, when there is none
    notes: tuple[str, ...] = ()

    def missing(self) -> str | None:
        absent = [p for p in self.programs if shutil.which(p) is None]
        return f"{', '.join(absent)} not installed (apt-get install {self.package})" if absent else None

    def version(self) -> str:
        return ""

    def setup_run(self, work: Path) -> None:
        """Once per run, before any round (not timed)."""

    def prepare(self, folder: Path, corpus: Corpus) -> None:
        """A fresh, empty repository in `folder` (not timed)."""
        self.folder = folder
        folder.mkdir(parents=True)

    def new(self, corpus: Corpus) -> Sample:
        raise NotImplementedError

    def again(self, corpus: Corpus) -> Sample | None:
        return None

    def stored_bytes(self) -> int:
        return folder_bytes(self.folder)


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""


class Testimony(Peer):
    name = "testimony"
    new_label = "testimony add"
    again_label = "testimony add (nothing new)"
    notes = ("`testimony init --kdf interactive` is not timed; every `add` pays interpreter "
             "start-up and the Argon2id unlock (64 MiB), which are in its wall time and peak RSS; "
             "`add` re-reads and hashes every byte when nothing is new (content, not mtimes)",)

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command or testimony_command())

    def missing(self) -> str | None:
        return None if Path(self.command[0]).exists() or shutil.which(self.command[0]) else \
            f"{self.command[0]} not found (make install)"

    def version(self) -> str:
        return _version([*self.command, "--version"])

    def prepare(self, folder: Path, corpus: Corpus) -> None:
        super().prepare(folder, corpus)
        self.env = clean_env(TESTIMONY_HOME=str(folder / "home"), TESTIMONY_KEYS=str(folder / "keys"),
                             TESTIMONY_PASSPHRASE=PASSPHRASE)
        run_pipeline([[*self.command, "init", "--name", "Compare benchmark", "--kdf", "interactive"]],
                     self.env, corpus.root.parent, folder / "logs")

    def _add(self, corpus: Corpus, new: int, duplicates: int) -> Sample:
        sample, stdout = run_pipeline([[*self.command, "add", "--json", corpus.root.name]],
                                      self.env, corpus.root.parent, self.folder / "logs")
        summary = json.loads(stdout)
        sample.extra = {"add_seconds": summary.get("seconds"), "new": summary.get("new"),
                        "duplicates": summary.get("duplicates")}
        if (summary.get("new"), summary.get("duplicates")) != (new, duplicates):
            raise ToolFailed(f"testimony add counted {summary.get('new')} new and "
                             f"{summary.get('duplicates')} duplicates; expected {new} and {duplicates}")
        return sample

    def new(self, corpus: Corpus) -> Sample:
        return self._add(corpus, corpus.unique_files, corpus.duplicate_files)

    def again(self, corpus: Corpus) -> Sample:
        return self._add(corpus, 0, corpus.files)

    def stored_bytes(self) -> int:
        return folder_bytes(self.folder / "home")

    def baseline(self, work: Path, corpus: Corpus) -> Sample:
        """Start-up and unlock alone: `add` of a 1-byte file into a fresh archive."""
        folder = work / "testimony-baseline"
        self.prepare(folder, corpus)
        tiny = folder / "tiny"
        tiny.mkdir()
        (tiny / "one-byte.txt").write_bytes(b"x")
        sample, _ = run_pipeline([[*self.command, "add", "--json", str(tiny)]], self.env, folder,
                                 folder / "logs")
        shutil.rmtree(folder, ignore_errors=True)
        return sample


class Restic(Peer):
    """`restic backup --compression off`: see `notes` for why off."""

    name = "restic"
    new_label = "restic backup"
    again_label = "restic backup (nothing new)"
    programs = ("restic",)
    package = "restic"
    compression = "off"
    notes = ("restic: `restic init`, `backup --compression off --host bench`; scrypt key derivation "
             "on every command. Compression is off because the generated corpus (a random 64 KiB "
             "block repeated with stamps) shrinks ~300:1 under zstd, which real photos and videos "
             "never do; with its default (`auto`) restic would write almost nothing (see the "
             "`restic-auto` tool). With nothing new restic skips unchanged files by "
             "mtime/size/inode from the parent snapshot, without reading them",)

    def version(self) -> str:
        return _version(["restic", "version"])

    def prepare(self, folder: Path, corpus: Corpus) -> None:
        super().prepare(folder, corpus)
        self.env = clean_env(RESTIC_PASSWORD=PASSPHRASE, RESTIC_REPOSITORY=str(folder / "repo"),
                             RESTIC_CACHE_DIR=str(folder / "cache"))
        run_pipeline([["restic", "init", "-q"]], self.env, corpus.root.parent, folder / "logs")

    def _backup(self, corpus: Corpus) -> Sample:
        return run_pipeline([["restic", "backup", "-q", "--compression", self.compression,
                              "--host", "bench", corpus.root.name]],
                            self.env, corpus.root.parent, self.folder / "logs")[0]

    new = again = _backup

    def stored_bytes(self) -> int:
        return folder_bytes(self.folder / "repo")


class ResticAuto(Restic):
    """restic with its default compression: flattered by the compressible corpus."""

    name = "restic-auto"
    new_label = "restic backup (default zstd; corpus compresses)"
    again_label = "restic backup (default zstd, nothing new)"
    compression = "auto"
    notes = ()


class Borg(Peer):
    name = "borg"
    new_label = "borg create"
    again_label = "borg create (nothing new)"
    programs = ("borg",)
    package = "borgbackup"
    notes = ("borg: `borg init -e repokey` (default compression lz4); with nothing new its files "
             "cache skips unchanged files by ctime/size/inode without reading them",)

    def version(self) -> str:
        return _version(["borg", "--version"])

    def prepare(self, folder: Path, corpus: Corpus) -> None:
        super().prepare(folder, corpus)
        self.env = clean_env(BORG_PASSPHRASE=PASSPHRASE, BORG_REPO=str(folder / "repo"),
                             BORG_BASE_DIR=str(folder / "base"),
                             BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
        self.archives = 0
        run_pipeline([["borg", "init", "-e", "repokey"]], self.env, corpus.root.parent, folder / "logs")

    def _create(self, corpus: Corpus) -> Sample:
        self.archives += 1
        return run_pipeline([["borg", "create", f"::run-{self.archives}", corpus.root.name]],
                            self.env, corpus.root.parent, self.folder / "logs")[0]

    new = again = _create

    def stored_bytes(self) -> int:
        return folder_bytes(self.folder / "repo")


class TarAge(Peer):
    name = "tar|age"
    new_label = "tar | age"
    again_label = "tar | age (nothing new)"
    programs = ("tar", "age", "age-keygen")
    package = "age"
    again_note = ("tar | age keeps no repository, so a second run reads, encrypts and writes "
                  "everything again")
    notes = ("tar | age: `tar -cf - corpus | age -r KEY -o FILE`, X25519 recipient from "
             "age-keygen, ChaCha20-Poly1305; no hashing, no dedup, no signatures, no fsync",)

    def version(self) -> str:
        return _version(["age", "--version"])

    def setup_run(self, work: Path) -> None:
        key = work / "age-key.txt"
        run_pipeline([["age-keygen", "-o", str(key)]], clean_env(), work, work / "age-logs")
        self.recipient = subprocess.run(["age-keygen", "-y", str(key)], capture_output=True,
                                        text=True, check=True).stdout.strip()

    def new(self, corpus: Corpus) -> Sample:
        return run_pipeline([["tar", "-cf", "-", corpus.root.name],
                             ["age", "-r", self.recipient, "-o", str(self.folder / "corpus.tar.age")]],
                            clean_env(), corpus.root.parent, self.folder / "logs")[0]


PEERS: dict[str, Callable[[], Peer]] = {"testimony": Testimony, "restic": Restic, "borg": Borg,
                                        "tar|age": TarAge, "restic-auto": ResticAuto}
DEFAULT_PEERS = ("testimony", "restic", "borg", "tar|age")


# --- Reading the corpus, and the primitives' limit --------------------------------------

def read_corpus(corpus: Corpus, logs: Path) -> Sample:
    """`cat` of every file into /dev/null: what reading alone costs (page cache)."""
    files = sorted(str(p.relative_to(corpus.root.parent)) for p in corpus.root.rglob("*") if p.is_file())
    listing = logs / "files.txt"
    logs.mkdir(parents=True, exist_ok=True)
    listing.write_bytes(b"\0".join(os.fsencode(f) for f in files))
    return run_pipeline([["xargs", "-0", "-a", str(listing), "cat"]], clean_env(),
                        corpus.root.parent, logs, stdout=Path(os.devnull))[0]


def _buffer() -> memoryview:
    import mmap
    buf = mmap.mmap(-1, MIB)  # page-aligned, as a read buffer should be
    buf.write(os.urandom(MIB))
    return memoryview(buf)


def _new_data_minimum(n: int) -> None:
    """Per new byte: SHA-256 ×3 (file hash, chunk-key HMAC, chunk id) + AES-256-GCM, no copies."""
    import hmac
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    buf, out = _buffer(), bytearray(MIB + 16)
    keyer = hmac.new(b"\x01" * 32, b"chunk", "sha256")
    for _ in range(n):
        hashlib.sha256(buf).digest()
        mac = keyer.copy()
        mac.update(buf)
        AESGCM(mac.digest()).encrypt_into(bytes(12), buf, b"aad", out)
        hashlib.sha256(out).digest()


def _sha256_only(n: int) -> None:
    buf = _buffer()
    for _ in range(n):
        hashlib.sha256(buf).digest()


def _aes_gcm_into(n: int) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    buf, out = _buffer(), bytearray(MIB + 16)
    for i in range(n):
        AESGCM(bytes([i % 256]) * 32).encrypt_into(bytes(12), buf, b"aad", out)


def _as_add_calls(n: int) -> None:
    """The calls `add` makes per new 1 MiB today: file hash, then archive.chunks.encrypt_chunk."""
    from archive import crypto
    from archive.chunks import encrypt_chunk
    buf = bytes(_buffer())  # add reads chunks into fresh bytes objects
    keyer = crypto.ChunkKeyer(b"\x01" * 32)
    for _ in range(n):
        hashlib.sha256(buf).digest()
        encrypt_chunk(keyer, buf)


PRIMITIVES: dict[str, tuple[str, Callable[[int], None]]] = {
    "new": ("limit: new data (SHA-256 ×3 + AES-256-GCM)", _new_data_minimum),
    "again": ("limit: nothing new (SHA-256 ×1)", _sha256_only),
    "aes": ("  AES-256-GCM encrypt_into alone", _aes_gcm_into),
    "as_add": ("  same, as add calls them today", _as_add_calls),
}


def primitive_rate(work: Callable[[int], None], mib_per_thread: int, threads: int) -> Sample:
    """`threads` threads each push `mib_per_thread` MiB through `work`; aggregate wall."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work(mib_per_thread)
        except BaseException as e:  # reported, never raised in a thread
            errors.append(e)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    meter = CpuMeter()
    started = time.perf_counter()
    barrier.wait()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - started
    if errors:
        raise ToolFailed(f"{work.__name__}: {errors[0]!r}")
    return Sample(seconds, [], meter.others_cores(), {"bytes": threads * mib_per_thread * MIB})


def formats_floor(corpus: Corpus) -> Sample:
    """benchmarks/floor.py's `add` phase: what DESIGN.md's formats demand for this corpus
    (hashes, chunk encryption, signatures, envelopes), in two processes, no I/O."""
    from benchmarks import floor
    meter = CpuMeter()
    seconds = floor.measure(corpus, processes=2, rounds=1, phases=("add",))["add"][0]
    return Sample(seconds, [], meter.others_cores(), {"bytes": corpus.total_bytes})


# --- The run ------------------------------------------------------------------------------

class Row:
    def __init__(self, key: str, label: str, tool: str, phase: str, nbytes: int) -> None:
        self.key, self.label, self.tool, self.phase, self.bytes = key, label, tool, phase, nbytes
        self.samples: list[Sample] = []
        self.status = "ok"
        self.note = ""
        self.stored_bytes: int | None = None

    def fail(self, status: str, note: str) -> None:
        if self.status == "ok":
            self.status, self.note = status, note

    def as_dict(self) -> dict[str, Any]:
        rates = [self.bytes / MB / s.seconds for s in self.samples
                 if s.seconds > 0 and self.phase != "baseline"]
        seconds = [s.seconds for s in self.samples]
        rss = [max(s.peak_rss_kib) for s in self.samples if s.peak_rss_kib]
        others = [s.others_cores for s in self.samples if s.others_cores is not None]
        ingest = [s.extra["add_seconds"] for s in self.samples if s.extra.get("add_seconds")]
        median_s = statistics.median(seconds) if seconds else None
        return {
            "key": self.key, "label": self.label, "tool": self.tool, "phase": self.phase,
            "status": self.status if self.samples or self.status != "ok" else "not run",
            "note": self.note, "bytes": self.bytes,
            "mb_per_s": (round(self.bytes / MB / median_s, 1)
                         if median_s and self.phase != "baseline" else None),
            "mb_per_s_min": round(min(rates), 1) if rates else None,
            "mb_per_s_max": round(max(rates), 1) if rates else None,
            "seconds_median": round(median_s, 3) if median_s else None,
            "peak_rss_mib": round(max(rss) / 1024, 1) if rss else None,
            "others_cores_median": round(statistics.median(others), 2) if others else None,
            "stored_mb": round(self.stored_bytes / MB, 1) if self.stored_bytes is not None else None,
            "mb_per_s_ingest_only": round(self.bytes / MB / statistics.median(ingest), 1) if ingest else None,
            "rounds": [s.as_dict() for s in self.samples],
        }


def measure(corpus: Corpus, work: Path, peers: Sequence[Peer], *, rounds: int = 3,
            primitive_mib: int = 256, read: bool = True, flush: bool = True, with_floor: bool = True,
            log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> dict[str, Any]:
    """Measure every peer on `corpus`, interleaved over `rounds` rounds; the report (JSON-able).

    Everything is made under `work`; the caller removes it. Never raises for a tool that
    is missing or fails: its rows say so. `flush=False` skips the `sync` before each
    timed run (for a quick check: on a busy machine a system-wide sync can take seconds).
    """
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Row] = {}

    def row(key: str, label: str, tool: str, phase: str, nbytes: int) -> Row:
        return rows.setdefault(key, Row(key, label, tool, phase, nbytes))

    if read:
        row("read", "read corpus (cat, page cache)", "cat", "read", corpus.total_bytes)
    active: list[Peer] = []
    versions: dict[str, str] = {}
    for peer in peers:
        new_row = row(f"{peer.name}:new", peer.new_label, peer.name, "new", corpus.total_bytes)
        again_row = row(f"{peer.name}:again", peer.again_label, peer.name, "again", corpus.total_bytes)
        if peer.again_note:
            again_row.fail("not meaningful", peer.again_note)
        reason = peer.missing()
        if reason:
            new_row.fail("skipped", reason)
            again_row.fail("skipped", reason)
            log(f"skipping {peer.name}: {reason}")
            continue
        versions[peer.name] = peer.version()
        try:
            peer.setup_run(work)
        except (ToolFailed, OSError, subprocess.SubprocessError) as e:
            new_row.fail("failed", str(e))
            again_row.fail("failed", str(e))
            log(f"{peer.name} failed to set up: {e}")
            continue
        active.append(peer)
    for key, (label, _) in PRIMITIVES.items():
        for threads in (1, 2):
            row(f"primitive:{key}:{threads}", f"{label}, {threads} thread{'s' * (threads > 1)}",
                "python", "limit", 0)
    if with_floor:
        row("floor:add", "ceiling: the formats' own work for add, 2 processes", "python", "limit",
            corpus.total_bytes)

    baseline = next((p for p in active if isinstance(p, Testimony)), None)
    if baseline is not None:
        base = row("testimony:baseline", "testimony start-up + unlock (1-byte add)", "testimony",
                   "baseline", 1)
        try:
            base.samples.append(baseline.baseline(work, corpus))
        except (ToolFailed, OSError, ValueError) as e:
            base.fail("failed", str(e))

    for r in range(rounds):
        shift = r % len(active) if active else 0
        order = active[shift:] + active[:shift]
        log(f"round {r + 1}/{rounds}: {', '.join(p.name for p in order)}")
        round_folder = work / f"round-{r + 1}"
        ready: list[Peer] = []
        for peer in order:
            try:
                peer.prepare(round_folder / peer.name.replace("|", "-"), corpus)
                ready.append(peer)
            except (ToolFailed, OSError, subprocess.SubprocessError) as e:
                rows[f"{peer.name}:new"].fail("failed", f"setting up: {e}")
                log(f"  {peer.name}: setting up failed: {e}")
        if read:
            _timed(rows["read"], lambda: read_corpus(corpus, round_folder / "read"), log, flush,
                   corpus.root)
        for peer in ready:
            _timed(rows[f"{peer.name}:new"], lambda: peer.new(corpus), log, flush, corpus.root)
            if r == 0 and rows[f"{peer.name}:new"].samples:
                rows[f"{peer.name}:new"].stored_bytes = peer.stored_bytes()
        for peer in ready:
            if rows[f"{peer.name}:again"].status != "not meaningful" and rows[f"{peer.name}:new"].samples:
                _timed(rows[f"{peer.name}:again"], lambda: peer.again(corpus), log, flush, corpus.root)
        for key, (_, work_fn) in PRIMITIVES.items():
            for threads in (1, 2):
                target = rows[f"primitive:{key}:{threads}"]
                _timed(target, lambda: primitive_rate(work_fn, primitive_mib, threads), log, False)
                if target.samples:
                    target.bytes = target.samples[-1].extra["bytes"]
        if with_floor:
            _timed(rows["floor:add"], lambda: formats_floor(corpus), log, False)
        shutil.rmtree(round_folder, ignore_errors=True)

    report_rows = [r.as_dict() for r in rows.values()]
    return {"corpus": _corpus_dict(corpus), "rounds": rounds, "primitive_mib_per_thread": primitive_mib,
            "order": "tools rotate by one each round; new data for all, then nothing new for all",
            "versions": versions, "notes": [n for p in peers for n in p.notes],
            "peak_rss_method": ("/usr/bin/time -f %M" if os.access(TIME, os.X_OK)
                                else "os.wait4 (floored at this process's RSS)"),
            "rows": report_rows, "ratios": ratios(report_rows), "targets": targets(report_rows)}


def _timed(target: Row, run: Callable[[], Sample], log: Callable[[str], None], flush: bool,
           inputs: Path | None = None) -> None:
    if target.status != "ok":
        return
    if flush:
        os.sync()  # earlier runs' dirty pages are written now, not during this one
    if inputs is not None:
        warm(inputs)  # read once, untimed: every tool reads its input from the page cache
    try:
        sample = run()
    except (ToolFailed, OSError, ValueError, subprocess.SubprocessError) as e:
        target.fail("failed", str(e))
        log(f"  {target.label}: FAILED: {e}")
        return
    target.samples.append(sample)
    nbytes = sample.extra.get("bytes", target.bytes) if target.phase == "limit" else target.bytes
    rss = f", peak RSS {max(sample.peak_rss_kib) / 1024:,.1f} MiB" if sample.peak_rss_kib else ""
    log(f"  {target.label}: {sample.seconds:.2f} s, {nbytes / MB / sample.seconds:,.0f} MB/s{rss}"
        f", others {sample.others_cores}")


def _corpus_dict(corpus: Corpus) -> dict[str, Any]:
    return {"description": corpus.describe(), "files": corpus.files, "bytes": corpus.total_bytes,
            "unique_files": corpus.unique_files, "duplicate_files": corpus.duplicate_files,
            "duplicate_bytes": corpus.duplicate_bytes}


def _rate(rows: list[dict[str, Any]], key: str) -> float | None:
    for r in rows:
        if r["key"] == key and r["status"] == "ok":
            return r["mb_per_s"]
    return None


def _field(rows: list[dict[str, Any]], key: str, name: str) -> Any:
    return next((r[name] for r in rows if r["key"] == key and r["status"] == "ok"), None)


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """testimony ÷ each peer (MB/s; peak RSS), and testimony as a share of the limits."""
    out: dict[str, dict[str, float | None]] = {}
    ours = {phase: _rate(rows, f"testimony:{phase}") for phase in ("new", "again")}
    our_rss = {phase: _field(rows, f"testimony:{phase}", "peak_rss_mib") for phase in ("new", "again")}
    for peer in sorted({r["tool"] for r in rows if r["phase"] in ("new", "again")} - {"testimony"}):
        entry: dict[str, float | None] = {}
        for phase in ("new", "again"):
            theirs = _rate(rows, f"{peer}:{phase}")
            entry[f"{phase}_speed"] = round(ours[phase] / theirs, 2) if ours[phase] and theirs else None
            rss = _field(rows, f"{peer}:{phase}", "peak_rss_mib")
            entry[f"{phase}_peak_rss"] = round(our_rss[phase] / rss, 2) if our_rss[phase] and rss else None
        out[peer] = entry
    limits = {"read": _rate(rows, "read"), "limit_new_1": _rate(rows, "primitive:new:1"),
              "limit_new_2": _rate(rows, "primitive:new:2"), "limit_again_2": _rate(rows, "primitive:again:2")}
    out["limits"] = {
        "new_share_of_2_thread_limit": _share(ours["new"], limits["limit_new_2"]),
        "again_share_of_2_thread_limit": _share(ours["again"], limits["limit_again_2"]),
        "new_share_of_cat": _share(ours["new"], limits["read"]),
        "again_share_of_cat": _share(ours["again"], limits["read"]),
    }
    return out


def _share(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _cli_ceiling(rows: list[dict[str, Any]]) -> float | None:
    """Corpus MB/s of a command that starts, unlocks (the 1-byte add) and then only hashes
    every byte once on both cores: the most that re-adding can reach end to end."""
    start = _field(rows, "testimony:baseline", "seconds_median")
    sha = _rate(rows, "primitive:again:2")
    total = _field(rows, "testimony:again", "bytes")
    if not (start and sha and total):
        return None
    return total / MB / (start + total / MB / sha)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 5's side-by-side targets: met, missed, or not measured (never an error)."""
    new, again = _rate(rows, "testimony:new"), _rate(rows, "testimony:again")
    restic_new, restic_again = _rate(rows, "restic:new"), _rate(rows, "restic:again")
    tar_age = _rate(rows, "tar|age:new")
    rss = [x for x in (_field(rows, "testimony:new", "peak_rss_mib"),
                       _field(rows, "testimony:again", "peak_rss_mib")) if x is not None]

    def check(name: str, value: float | None, threshold: float, unit: str, higher: bool = True) -> dict:
        if value is None:
            return {"target": name, "value": None, "threshold": threshold, "status": "not measured"}
        ok = value >= threshold if higher else value < threshold
        return {"target": name, "value": round(value, 2), "threshold": threshold, "unit": unit,
                "status": "met" if ok else "missed"}

    ceiling = _rate(rows, "floor:add")
    return [
        check("new data: testimony add ≥ 3× restic backup", new / restic_new if new and restic_new else None,
              3.0, "×"),
        check("  can any implementation? the formats' own work ≥ 3× restic",
              ceiling / restic_new if ceiling and restic_new else None, 3.0, "×"),
        check("new data: testimony add not slower than tar | age",
              new / tar_age if new and tar_age else None, 1.0, "×"),
        check("  can any implementation? the formats' own work not slower than tar | age",
              ceiling / tar_age if ceiling and tar_age else None, 1.0, "×"),
        check("nothing new: ≥ 1.5 GB/s", again, 1500.0, "MB/s"),
        check("  can any Python CLI? start-up + unlock, then SHA-256 on 2 threads, ≥ 1.5 GB/s",
              _cli_ceiling(rows), 1500.0, "MB/s"),
        check("nothing new: ≥ 2.5× restic's no-change backup",
              again / restic_again if again and restic_again else None, 2.5, "×"),
        check("peak RSS < 100 MB (whole corpus, CLI, unlock included)",
              max(rss) * MIB / MB if rss else None, RSS_TARGET_BYTES / MB, "MB", higher=False),
    ]


# --- Output -------------------------------------------------------------------------------

LABEL = 54  # width of the table's first column


def render(report: dict[str, Any]) -> str:
    rows = report["rows"]
    lines = [f"corpus: {report['corpus']['description']}",
             f"{report['rounds']} round(s), interleaved; MB/s = corpus bytes / wall s, median (min–max); "
             f"peak RSS = largest over rounds", ""]
    head = (f"{'':<{LABEL}} {'MB/s':>8} {'(min–max)':>15} {'s':>7} {'peak RSS':>9} {'stored':>8} "
            f"{'others':>6}")
    lines += [head, f"{'':<{LABEL}} {'':>8} {'':>15} {'':>7} {'MiB':>9} {'MB':>8} {'cores':>6}"]
    sections = [("new data", ("new",)), ("nothing new", ("again",)),
                ("reference", ("read", "baseline", "limit"))]
    for title, phases in sections:
        lines.append(f"-- {title}")
        for r in rows:
            if r["phase"] not in phases:
                continue
            if r["status"] != "ok" or r["seconds_median"] is None:
                lines.append(f"{r['label']:<{LABEL}} {r['status']}: {r['note']}" if r["note"]
                             else f"{r['label']:<{LABEL}} {r['status']}")
                continue
            if r["mb_per_s"] is None:  # the baseline: a time and a peak RSS, no rate
                rate, spread = f"{'':>8}", ""
            else:
                rate = f"{r['mb_per_s']:>8,.0f}"
                spread = f"({r['mb_per_s_min']:,.0f}–{r['mb_per_s_max']:,.0f})"
            rss = f"{r['peak_rss_mib']:>9,.1f}" if r["peak_rss_mib"] is not None else f"{'':>9}"
            stored = f"{r['stored_mb']:>8,.1f}" if r["stored_mb"] is not None else f"{'':>8}"
            others = f"{r['others_cores_median']:>6}" if r["others_cores_median"] is not None else ""
            lines.append(f"{r['label']:<{LABEL}} {rate} {spread:>15} {r['seconds_median']:>7.2f} {rss} "
                         f"{stored} {others}")
            if r.get("mb_per_s_ingest_only"):
                lines.append(f"{'  ingest alone (add --json seconds)':<{LABEL}} {r['mb_per_s_ingest_only']:>8,.0f}")
    lines.append("")
    lines.append("testimony ÷ peer:        new data   nothing new   peak RSS (new)")
    for peer, entry in report["ratios"].items():
        if peer == "limits":
            continue
        lines.append(f"  {peer:<22} {_x(entry['new_speed']):>8} {_x(entry['again_speed']):>13} "
                     f"{_x(entry['new_peak_rss']):>16}")
    limits = report["ratios"]["limits"]
    lines.append(f"testimony as a share of: 2-thread primitive limit new {_pct(limits['new_share_of_2_thread_limit'])}, "
                 f"nothing new {_pct(limits['again_share_of_2_thread_limit'])}; cat new "
                 f"{_pct(limits['new_share_of_cat'])}, nothing new {_pct(limits['again_share_of_cat'])}")
    lines.append("")
    lines.append("issue 5 targets:")
    for t in report["targets"]:
        value = "—" if t["value"] is None else f"{t['value']:,.2f} {t.get('unit', '')}"
        lines.append(f"  [{t['status']:^12}] {t['target']}: {value}")
    return "\n".join(lines)


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version()}
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                            if line.startswith("model name")), "?")
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                      if line.startswith("flags")), [])
        info["aes_ni"], info["sha_ni"] = "aes" in flags, "sha_ni" in flags
    except OSError:
        pass
    try:
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        info["ram_gib"] = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import cryptography
        info["cryptography"] = cryptography.__version__
    except ImportError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help=f"corpus size as a multiple of {DEFAULT_MB} MB (default 1.0)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--peers", default=",".join(DEFAULT_PEERS),
                        help=f"which tools, comma-separated, of {', '.join(PEERS)} "
                             f"(default {','.join(DEFAULT_PEERS)})")
    parser.add_argument("--primitive-mib", type=int, default=256,
                        help="MiB per thread for each primitive measurement (default 256)")
    parser.add_argument("--seed", type=int, default=2024, help="corpus seed (default 2024)")
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temporary folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.scale <= 0 or args.primitive_mib < 1:
        parser.error("--rounds, --scale and --primitive-mib must be positive")
    unknown = [p for p in args.peers.split(",") if p not in PEERS]
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    peers = [PEERS[p]() for p in args.peers.split(",")]

    work = Path(tempfile.mkdtemp(prefix="testimony-compare-", dir=args.tmp))
    started = _dt.datetime.now(_dt.timezone.utc)
    try:
        print(f"temporary folder {work}; generating the corpus…", file=sys.stderr, flush=True)
        corpus = generate_corpus(work / "corpus", int(DEFAULT_MB * args.scale * MB), seed=args.seed)
        report = measure(corpus, work / "runs", peers, rounds=args.rounds, primitive_mib=args.primitive_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"date": started.isoformat(timespec="seconds"),
              "command": shlex.join([os.path.relpath(sys.executable), "-m", "benchmarks.compare",
                                     *(argv if argv is not None else sys.argv[1:])]),
              "machine": machine(), **report}
    print(render(report))
    print(f"\n{report['machine'].get('cpu', '?')}, {report['machine'].get('nproc')} cores, "
          f"{report['machine'].get('ram_gib')} GiB RAM; {report['date']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    ours = [r for r in report["rows"] if r["tool"] == "testimony" and r["status"] == "failed"]
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main())
