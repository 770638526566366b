"""benchmarks/floor.py still works: every phase on a ~3 MB corpus, in two processes.

Asserts that the work was done (one record per unique file, duplicates kept with their
originals), never a number.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import floor
from .corpus import MB, generate_corpus


def test_floor_does_the_formats_work_on_a_tiny_corpus(tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / "corpus", 3 * MB, sync=False)
    parts = floor.shares(corpus, 2)
    assert sum(len(p) for p in parts) == corpus.files
    # Each file's bytes live in one share only, so a duplicate is seen where its first copy is.
    owners: dict[bytes, set[int]] = {}
    for i, part in enumerate(parts):
        for path, _ in part:
            owners.setdefault(hashlib.sha256(Path(path).read_bytes()).digest(), set()).add(i)
    assert all(len(o) == 1 for o in owners.values())

    result = floor.measure(corpus, processes=2, rounds=1)
    assert result["records"] == [corpus.unique_files]
    assert result["chunks"][0] >= corpus.unique_files
    for phase in floor.PHASES:
        assert len(result[phase]) == 1 and result[phase][0] > 0
