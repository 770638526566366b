"""`verify` and `check --read-data` over an archive holding the generated corpus (issue 5).

Issue 5's target: at least 1 GB/s for both. MB/s is the corpus bytes (duplicates
included, as `add` reports them) over the timed call. `verify` opens every record,
checks its signatures and commitments, decrypts every chunk and re-hashes every file;
`check --read-data` re-hashes every object in every pack and opens every record. The
archive's packs are read once before each round (untimed, corpus.warm), so they are in the
page cache and this measures the pipeline, not the disk.
"""

from __future__ import annotations

from typing import Callable

from archive.api import Archive

from .conftest import record_rate
from .corpus import MB, Corpus, warm


def _warm_packs(archive: Archive) -> Callable[[], None]:
    def setup() -> None:
        warm(archive.home / "packs")
    return setup


def _extra(corpus: Corpus) -> dict[str, object]:
    return {"corpus_mb": round(corpus.total_bytes / MB, 1), "files": corpus.files}


def test_verify_everything(benchmark, corpus: Corpus, filled_archive: Archive, rounds: int) -> None:
    benchmark.group = "read back"
    report = benchmark.pedantic(filled_archive.verify, setup=_warm_packs(filled_archive),
                                rounds=rounds)
    assert report.ok and len(report.records) == corpus.unique_files
    record_rate(benchmark, corpus.total_bytes, **_extra(corpus))


def test_check_read_data(benchmark, corpus: Corpus, filled_archive: Archive, rounds: int) -> None:
    benchmark.group = "read back"
    report = benchmark.pedantic(lambda: filled_archive.check(read_data=True),
                                setup=_warm_packs(filled_archive), rounds=rounds)
    assert report.ok and report.records == corpus.unique_files
    record_rate(benchmark, corpus.total_bytes, **_extra(corpus))
