"""Bundle export and import against `add` on the same data, side by side in one run.

Issue 3's target: export and import each at no less than 70% of the throughput of `add`
on the same corpus, with flat memory. The corpus (benchmarks/corpus.py) is added into a
field archive whose records are encrypted to the receiving archive, so the import opens,
verifies and indexes every record, as the last hop does. MB/s is the corpus's bytes (as
`add` counts them) over the timed call. Each round writes a new bundle (`--all`) or imports into a
fresh copy of the empty, pinned receiving archive.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from archive.api import Archive

from .conftest import PASSPHRASE, new_archive
from .corpus import MB, Corpus


class Pair:
    def __init__(self, root: Path, field: Archive, add_seconds: float, unique_bytes: int) -> None:
        self.root, self.field, self.add_seconds, self.unique_bytes = root, field, add_seconds, unique_bytes

    def fresh_receiver(self, name: str) -> Archive:
        target = self.root / name
        shutil.copytree(self.root / "receiver-pristine", target)
        receiver = Archive(target / "home", target / "keys")
        receiver.unlock(PASSPHRASE)
        return receiver


@pytest.fixture(scope="session")
def pair(scratch: Path, corpus: Corpus):
    root = scratch / "sync"
    receiver = new_archive(root / "receiver-pristine")
    field = new_archive(root / "field")
    receiver.export_identity(root / "receiver.pub")
    field.export_identity(root / "field.pub")
    field.add_peer(root / "receiver.pub", name="receiver", role="archivist",
                   fingerprint=receiver.keys.card.fingerprint)
    receiver.add_peer(root / "field.pub", name="field", role="field",
                      fingerprint=field.keys.card.fingerprint)
    receiver.close()
    field.set_default_recipients(["receiver"])
    started = time.perf_counter()
    summary = field.add([corpus.root])
    add_seconds = time.perf_counter() - started
    yield Pair(root, field, add_seconds, summary.bytes)
    field.close()


def _rates(benchmark, pair: Pair, seconds: list[float]) -> None:
    add_rate = pair.unique_bytes / MB / pair.add_seconds
    best = min(seconds)
    benchmark.extra_info.update({
        "corpus_mb": round(pair.unique_bytes / MB, 1),
        "add_mb_per_s": round(add_rate, 1),
        "mb_per_s": round(pair.unique_bytes / MB / best, 1),
        "ratio_to_add": round(pair.add_seconds / best, 2)})


def test_bundle_export(benchmark, pair: Pair, rounds: int) -> None:
    benchmark.group = "sync"
    seconds: list[float] = []

    def export() -> None:
        out = pair.root / f"export-{len(seconds)}.tmy"
        started = time.perf_counter()
        result = pair.field.export_bundle(["receiver"], out, mode="all")
        seconds.append(time.perf_counter() - started)
        assert result.objects > 0
        out.unlink()

    benchmark.pedantic(export, rounds=rounds)
    _rates(benchmark, pair, seconds)


def test_bundle_import(benchmark, pair: Pair, rounds: int) -> None:
    benchmark.group = "sync"
    bundle = pair.root / "to-receiver.tmy"
    if not bundle.exists():
        pair.field.export_bundle(["receiver"], bundle, mode="all")
    seconds: list[float] = []
    receivers: list[Archive] = []

    def setup():
        receivers.append(pair.fresh_receiver(f"receiver-{len(receivers)}"))
        return (receivers[-1],), {}

    def run(receiver: Archive) -> None:
        started = time.perf_counter()
        result = receiver.import_bundle(bundle)
        seconds.append(time.perf_counter() - started)
        assert result.new_records > 0 and result.relay_only == 0
        receiver.close()
        shutil.rmtree(pair.root / f"receiver-{len(receivers) - 1}")

    benchmark.pedantic(run, setup=setup, rounds=rounds)
    _rates(benchmark, pair, seconds)
