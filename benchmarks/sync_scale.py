"""Issue 3's own scale: add, export and import of ~1 GB and 10,000 records, one round.

    .venv/bin/python -m benchmarks.sync_scale [--mb 1000] [--notes 9200]

Prints MB/s of each step and the ratios to `add`. Data and archives live in a temporary
folder removed at the end. Not part of the test suite (it takes about a minute).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from .corpus import MB, generate_corpus, generate_tiny_files
from .test_bench_sync import _pinned_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="media corpus size in MB")
    parser.add_argument("--notes", type=int, default=9200, help="tiny notes added beside it")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="testimony-sync-scale-"))
    try:
        generate_corpus(root / "corpus" / "media", args.mb * MB)
        generate_tiny_files(root / "corpus" / "notes", args.notes)
        field, receiver = _pinned_pair(root / "pair")
        started = time.perf_counter()
        summary = field.add([root / "corpus"])
        add = time.perf_counter() - started
        started = time.perf_counter()
        exported = field.export_bundle(["receiver"], root / "b.tmy")
        export = time.perf_counter() - started
        started = time.perf_counter()
        imported = receiver.import_bundle(root / "b.tmy")
        import_ = time.perf_counter() - started
        field.close()
        receiver.close()
        mb = summary.bytes / MB
        print(f"{summary.new} records, {mb:,.0f} MB, {exported.objects} objects")
        for name, seconds in (("add", add), ("export", export), ("import", import_)):
            print(f"{name:<7} {mb / seconds:7.0f} MB/s  {seconds:6.1f} s  {add / seconds:4.2f}× add")
        assert imported.new_records == summary.new
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
