"""`list` of 10,000 records (issue 2: under 1 s on the 2-core machine).

The archive is built once per session by one `add` of 10,000 tiny distinct files (one
evidence record each); that add's time is kept in extra_info as records per second,
the per-record cost that dominates `add` of many small files. The timed call is
`Archive.list_records()`: read every index row, open its sealed metadata, sort.
"""

from __future__ import annotations

from .conftest import ListedArchive


def test_list_records(benchmark, listed_archive: ListedArchive) -> None:
    benchmark.group = "list"
    records = benchmark(listed_archive.archive.list_records)
    assert len(records) == listed_archive.records
    benchmark.extra_info.update(
        records=listed_archive.records,
        setup_add_seconds=round(listed_archive.add_seconds, 2),
        setup_add_records_per_s=round(listed_archive.records / listed_archive.add_seconds, 1))
