"""`add` of a generated corpus: into a fresh archive (new data), and again (nothing new).

Issue 2's targets on the 2-core machine: ≥ 300 MB/s for new data, ≥ 1 GB/s re-adding
data already stored. MB/s is corpus bytes (duplicates included, as `add` reports it)
over the timed `Archive.add` call: walking the folder, reading, hashing, encrypting,
writing and fsyncing packs, committing the index. Creating the archive (Argon2id) is
not timed. The corpus is read once before each round (untimed, corpus.warm), so it is in
the page cache and this measures the pipeline, not the disk it reads from; packs are
fsynced, so it does include the disk it writes to.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from archive.api import Archive

from .conftest import new_archive, record_rate
from .corpus import MB, Corpus, warm


def _extra(corpus: Corpus) -> dict[str, object]:
    return {"corpus_mb": round(corpus.total_bytes / MB, 1), "files": corpus.files,
            "duplicates_in_corpus": corpus.duplicate_files}


def test_add_new_data(benchmark, corpus: Corpus, scratch: Path, rounds: int) -> None:
    benchmark.group = "add"
    made: list[Path] = []

    def setup():
        folder = scratch / f"fresh-{len(made)}"
        made.append(folder)
        archive = new_archive(folder)
        warm(corpus.root)
        return (archive,), {}

    def teardown(archive: Archive) -> None:
        archive.close()
        shutil.rmtree(made[-1])

    summaries = []

    def add(archive: Archive) -> None:
        summaries.append(archive.add([corpus.root]))

    benchmark.pedantic(add, setup=setup, teardown=teardown, rounds=rounds)
    for summary in summaries:
        assert (summary.new, summary.duplicates) == (corpus.unique_files, corpus.duplicate_files)
    record_rate(benchmark, corpus.total_bytes, **_extra(corpus),
                stored_mb=round(summaries[-1].stored_bytes / MB, 1))


def test_add_nothing_new(benchmark, corpus: Corpus, filled_archive: Archive, rounds: int) -> None:
    benchmark.group = "add"
    summaries = []

    def setup():
        warm(corpus.root)
        return ([corpus.root],), {}

    def add(folders: list[Path]) -> None:
        summaries.append(filled_archive.add(folders))

    benchmark.pedantic(add, setup=setup, rounds=rounds, warmup_rounds=1 if rounds > 1 else 0)
    assert all((s.new, s.duplicates) == (0, corpus.files) for s in summaries)
    record_rate(benchmark, corpus.total_bytes, **_extra(corpus))
