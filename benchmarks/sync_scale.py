"""Issue 3's own scale: add, export and import of ~1 GB and 10,000 records, interleaved.

    .venv/bin/python -m benchmarks.sync_scale [--mb 1000] [--notes 9200] [--rounds 2]

Each round makes a fresh pair of pinned archives and times, one after the other on the
same data, `add` (library), `bundle export` (library) and `bundle import` — the import
as a real `testimony bundle import` process, whose memory is sampled every 20 ms over
its whole process tree (the import and its worker processes). Prints MB/s of each step
and the ratios to the same round's `add`. Data and archives live in a temporary folder
removed at the end. Not part of the test suite (a round takes about a minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .conftest import PASSPHRASE
from .corpus import MB, generate_corpus, generate_tiny_files
from .test_bench_sync import _pinned_pair

REPO = Path(__file__).resolve().parent.parent


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


class TreeMemory:
    """Peak RSS of a process alone, of its largest child, and of the tree's sum."""

    def __init__(self, pid: int) -> None:
        self.pid, self.main, self.child, self.total = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            main = _rss_kib(self.pid)
            children = [_rss_kib(c) for c in _children(self.pid)]
            self.main = max(self.main, main)
            self.child = max([self.child, *children])
            self.total = max(self.total, main + sum(children))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def import_with_cli(receiver_root: Path, bundle: Path) -> tuple[float, TreeMemory]:
    env = {**os.environ, "TESTIMONY_HOME": str(receiver_root / "home"),
           "TESTIMONY_KEYS": str(receiver_root / "keys"), "TESTIMONY_PASSPHRASE": PASSPHRASE}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cli", "bundle", "import", str(bundle)],
                               env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    memory = TreeMemory(process.pid)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"bundle import failed: {err.decode()}{out.decode()}")
    return seconds, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="media corpus size in MB")
    parser.add_argument("--notes", type=int, default=9200, help="tiny notes added beside it")
    parser.add_argument("--rounds", type=int, default=2, help="add/export/import rounds")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="testimony-sync-scale-"))
    try:
        generate_corpus(root / "corpus" / "media", args.mb * MB)
        generate_tiny_files(root / "corpus" / "notes", args.notes)
        for n in range(1, args.rounds + 1):
            pair = root / f"pair-{n}"
            field, receiver = _pinned_pair(pair)
            receiver.close()   # the import runs as its own process
            started = time.perf_counter()
            summary = field.add([root / "corpus"])
            add = time.perf_counter() - started
            started = time.perf_counter()
            exported = field.export_bundle(["receiver"], pair / "b.tmy")
            export = time.perf_counter() - started
            field.close()
            import_, memory = import_with_cli(pair / "receiver", pair / "b.tmy")
            mb = summary.bytes / MB
            print(f"round {n}: {summary.new} records, {mb:,.0f} MB, {exported.objects} objects, "
                  f"bundle {(pair / 'b.tmy').stat().st_size / MB:,.0f} MB")
            for name, seconds in (("add", add), ("export", export), ("import", import_)):
                print(f"  {name:<7} {mb / seconds:7.0f} MB/s  {seconds:6.1f} s  {add / seconds:4.2f}× add")
            print(f"  import peak RSS: {memory.main / 1024:.0f} MiB (the import process), "
                  f"{memory.child / 1024:.0f} MiB (largest worker), {memory.total / 1024:.0f} MiB (all)")
            shutil.rmtree(pair)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
