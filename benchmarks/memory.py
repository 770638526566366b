"""Peak memory and speed of `testimony add`, each run in its own subprocess.

Issue 2: memory stays flat however large a file is (a 2 GiB file under 200 MB peak
RSS). This script, standalone (not collected by pytest), makes a temporary folder, a
fresh archive (`init --kdf interactive` unless --kdf says otherwise), and runs:

  baseline   `add` of a 1-byte file: the interpreter, the imports and the unlock
             (Argon2id allocates its whole memlimit: 64 MiB interactive, 256 MiB moderate)
  large      `add` of one generated file of --gib GiB (default 2), all chunks distinct
  large-again the same file again: nothing new, one hashing pass
  corpus     `add` of a generated corpus of --corpus-mb MB into a second fresh archive
  corpus-again the corpus again: nothing new
  *-ingest   the same new-data `add`, through the library in a child process that
             resets its peak RSS (/proc/self/clear_refs) after the unlock: the memory of
             the ingest pipeline alone, without the Argon2id peak that hides it above

Each CLI row is a real `testimony add --json` subprocess; its peak RSS is the ru_maxrss
that os.wait4 returns for that child alone, and at the end the script also prints
resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (the largest of all its children). MB/s
is given twice: over the ingest as `add` times it (its --json "seconds"), and over the
whole process (start-up and unlock included). "others" is how many cores other
processes kept busy meanwhile (from /proc/stat, less the child's own CPU time): on a
shared machine, MB/s figures with others near 0 are the ones to quote; peak RSS does
not depend on it. The temporary folder is removed at the end, whatever happens.

    .venv/bin/python benchmarks/memory.py                  # 2 GiB file + 600 MB corpus
    .venv/bin/python benchmarks/memory.py --gib 0.5 --corpus-mb 64 --kdf moderate
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.corpus` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import MB, generate_corpus, generate_large_file  # noqa: E402

GIB = 1024 ** 3
PASSPHRASE = "benchmark staple violet harbour 1947"


@dataclass
class Run:
    scenario: str
    bytes: int
    ingest_seconds: float
    wall_seconds: float
    peak_rss_kib: int
    new: int
    duplicates: int
    others_cores: float | None = None   # cores other processes kept busy meanwhile

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    def row(self) -> str:
        ingest = self.bytes / MB / self.ingest_seconds if self.ingest_seconds else 0.0
        wall = self.bytes / MB / self.wall_seconds
        return (f"{self.scenario:<13} {self.bytes / MB:>10,.1f} {self.new:>5} {self.duplicates:>5} "
                f"{self.ingest_seconds:>9.2f} {ingest:>9,.0f} {self.wall_seconds:>8.2f} {wall:>8,.0f} "
                f"{self.peak_rss_mib:>12,.1f} {_cores(self.others_cores):>7}")


HEADER = (f"{'scenario':<13} {'MB':>10} {'new':>5} {'dups':>5} {'ingest s':>9} {'MB/s':>9} "
          f"{'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>12} {'others':>7}")


def _cores(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), or None."""
    try:
        ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def testimony_command() -> list[str]:
    script = Path(sys.executable).parent / "testimony"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


@dataclass
class Measured:
    stdout: str
    wall: float
    peak_rss_kib: int                # ru_maxrss of this child alone
    others_cores: float | None       # cores that other processes kept busy meanwhile


def run_measured(command: list[str], env: dict[str, str] | None, folder: Path) -> Measured:
    """Run one child process to completion and measure it."""
    out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        busy_before = _machine_busy_seconds()
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        # wait4, not wait: it returns this child's own rusage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        busy_after = _machine_busy_seconds()
        process.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}... exited {process.returncode}:\n{stderr}{stdout}")
    others = None
    if busy_before is not None and busy_after is not None and wall > 0:
        own = usage.ru_utime + usage.ru_stime
        others = round(max(0.0, busy_after - busy_before - own) / wall, 2)
    return Measured(stdout, wall, usage.ru_maxrss, others)


def new_archive(folder: Path, kdf: str) -> dict[str, str]:
    env = {**os.environ, "TESTIMONY_HOME": str(folder / "home"), "TESTIMONY_KEYS": str(folder / "keys"),
           "TESTIMONY_PASSPHRASE": PASSPHRASE}
    env.pop("EDITOR", None)
    run_measured([*testimony_command(), "init", "--name", "Memory benchmark", "--kdf", kdf], env, folder)
    return env


# Runs in a child: unlock, forget the peak so far, add, report the peak since the unlock.
_INGEST_CHILD = """
import json, re, sys, time
sys.path.insert(0, sys.argv[1])
from archive.api import Archive

def status(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))

archive = Archive(sys.argv[2], sys.argv[3])
archive.unlock(sys.argv[4])
after_unlock = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
summary = archive.add([sys.argv[5]])
print(json.dumps({"bytes": summary.bytes, "seconds": summary.seconds, "new": summary.new,
                  "duplicates": summary.duplicates, "hwm_kib": status("VmHWM"),
                  "rss_after_unlock_kib": after_unlock}))
archive.close()
"""


def measure_ingest_only(scenario: str, path: Path, folder: Path, kdf: str) -> Run:
    """The pipeline's own peak RSS: a library child, its VmHWM reset after the unlock."""
    archive = folder / f"archive-{scenario}"
    archive.mkdir()
    env = new_archive(archive, kdf)
    repo = str(Path(__file__).resolve().parent.parent)
    measured = run_measured([sys.executable, "-c", _INGEST_CHILD, repo, env["TESTIMONY_HOME"],
                             env["TESTIMONY_KEYS"], PASSPHRASE, str(path)], None, folder)
    result = json.loads(measured.stdout)
    run = Run(scenario, result["bytes"], result["seconds"], measured.wall, result["hwm_kib"],
              result["new"], result["duplicates"], measured.others_cores)
    print(f"{run.row()}   (RSS after unlock {result['rss_after_unlock_kib'] / 1024:,.1f} MiB)", flush=True)
    shutil.rmtree(archive)
    return run


def measure_add(scenario: str, path: Path, env: dict[str, str], folder: Path) -> Run:
    measured = run_measured([*testimony_command(), "add", "--json", str(path)], env, folder)
    summary = json.loads(measured.stdout)
    run = Run(scenario, summary["bytes"], summary["seconds"], measured.wall, measured.peak_rss_kib,
              summary["new"], summary["duplicates"], measured.others_cores)
    print(run.row(), flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the large file in GiB (2)")
    parser.add_argument("--corpus-mb", type=int, default=600, help="corpus size in MB; 0 skips it (600)")
    parser.add_argument("--kdf", default="interactive", choices=["interactive", "moderate", "sensitive"])
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temporary folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="testimony-memory-", dir=args.tmp))
    runs: list[Run] = []
    try:
        print(f"kdf {args.kdf}; temporary folder {work}", flush=True)
        print(HEADER, flush=True)
        first = work / "archive-1"
        first.mkdir()
        env = new_archive(first, args.kdf)

        tiny = work / "tiny.txt"
        tiny.write_bytes(b"x")
        runs.append(measure_add("baseline", tiny, env, work))

        large = work / "large.bin"
        generate_large_file(large, int(args.gib * GIB))
        runs.append(measure_add("large", large, env, work))
        runs.append(measure_add("large-again", large, env, work))
        shutil.rmtree(first)
        runs.append(measure_ingest_only("large-ingest", large, work, args.kdf))
        large.unlink()

        if args.corpus_mb > 0:
            corpus = generate_corpus(work / "corpus", args.corpus_mb * MB)
            print(f"corpus: {corpus.describe()}", flush=True)
            second = work / "archive-2"
            second.mkdir()
            env = new_archive(second, args.kdf)
            runs.append(measure_add("corpus", corpus.root, env, work))
            runs.append(measure_add("corpus-again", corpus.root, env, work))
            shutil.rmtree(second)
            runs.append(measure_ingest_only("corpus-ingest", corpus.root, work, args.kdf))

        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"getrusage(RUSAGE_CHILDREN).ru_maxrss over all children (init included): "
              f"{children / 1024:,.1f} MiB")
        if args.json:
            args.json.write_text(json.dumps(
                {"kdf": args.kdf, "gib": args.gib, "corpus_mb": args.corpus_mb,
                 "children_max_rss_kib": children,
                 "runs": [{**vars(r), "peak_rss_mib": round(r.peak_rss_mib, 1)} for r in runs]},
                indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
