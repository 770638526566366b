"""Bundle export and import against `add` on the same data, side by side in one run.

Issue 3's target: export and import each at no less than 70% of the throughput of `add`
on the same corpus, with flat memory. Each round, interleaved so that the shared
machine's noise falls on all three alike: `add` the corpus (benchmarks/corpus.py) into
a fresh field archive whose records are encrypted to the receiving archive, `bundle
export` everything, `bundle import` it into a fresh, pinned receiver (which opens,
verifies and indexes every record, as the last hop does). MB/s is the corpus's bytes
over each timed call; the figures are medians over the rounds. Each call's input is read
once before it, untimed (corpus.warm), so it comes from the page cache.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from archive.api import Archive

from .conftest import new_archive
from .corpus import MB, Corpus, warm


def _pinned_pair(root: Path) -> tuple[Archive, Archive]:
    field, receiver = new_archive(root / "field"), new_archive(root / "receiver")
    field.export_identity(root / "field.pub")
    receiver.export_identity(root / "receiver.pub")
    field.add_peer(root / "receiver.pub", name="receiver", role="archivist",
                   fingerprint=receiver.keys.card.fingerprint)
    receiver.add_peer(root / "field.pub", name="field", role="field",
                      fingerprint=field.keys.card.fingerprint)
    field.set_default_recipients(["receiver"])
    return field, receiver


def test_add_export_import_side_by_side(benchmark, corpus: Corpus, scratch: Path, rounds: int) -> None:
    benchmark.group = "sync"
    times: dict[str, list[float]] = {"add": [], "export": [], "import": []}
    count = [0]

    def one_round() -> None:
        root = scratch / f"sync-{count[0]}"
        count[0] += 1
        field, receiver = _pinned_pair(root)
        try:
            warm(corpus.root)          # each input read once, untimed: page cache, not disk
            started = time.perf_counter()
            summary = field.add([corpus.root])
            times["add"].append(time.perf_counter() - started)
            warm(field.home / "packs")
            started = time.perf_counter()
            exported = field.export_bundle(["receiver"], root / "b.tmy")
            times["export"].append(time.perf_counter() - started)
            warm(root / "b.tmy")
            started = time.perf_counter()
            imported = receiver.import_bundle(root / "b.tmy")
            times["import"].append(time.perf_counter() - started)
            assert imported.new_records == summary.new and imported.relay_only == 0
            assert exported.objects == imported.new_objects
        finally:
            field.close()
            receiver.close()
            shutil.rmtree(root)

    benchmark.pedantic(one_round, rounds=rounds)
    rate = {k: corpus.total_bytes / MB / statistics.median(v) for k, v in times.items()}
    benchmark.extra_info.update({
        "corpus_mb": round(corpus.total_bytes / MB, 1),
        **{f"{k}_mb_per_s": round(v, 1) for k, v in rate.items()},
        "export_to_add": round(rate["export"] / rate["add"], 2),
        "import_to_add": round(rate["import"] / rate["add"], 2)})
