"""benchmarks/compare.py still works: its measurement functions on a ~3 MB corpus.

Only `testimony` is run (restic, borg and age need not be installed); a tool that is
missing must come out as a skipped row, never an error. Asserts the report's shape,
never a number.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import compare
from .corpus import MB, generate_corpus


class _Absent(compare.Restic):
    """A peer whose program is not installed."""

    name = "absent"
    programs = ("testimony-compare-no-such-program",)


def test_compare_measures_testimony_on_a_tiny_corpus(tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / "corpus", 3 * MB, sync=False)
    report = compare.measure(corpus, tmp_path / "runs", [compare.Testimony(), _Absent()], rounds=1,
                             primitive_mib=1, flush=False, log=lambda line: None)

    rows = {row["key"]: row for row in report["rows"]}
    for key in ("testimony:new", "testimony:again", "read", "testimony:baseline"):
        assert rows[key]["status"] == "ok", rows[key]
        assert len(rows[key]["rounds"]) == 1
        assert rows[key]["seconds_median"] > 0
    for key in ("testimony:new", "testimony:again"):
        assert rows[key]["mb_per_s"] > 0 and rows[key]["peak_rss_mib"] > 0
        assert rows[key]["bytes"] == corpus.total_bytes
    assert rows["testimony:new"]["rounds"][0]["new"] == corpus.unique_files
    assert rows["testimony:again"]["rounds"][0]["duplicates"] == corpus.files
    assert rows["testimony:new"]["stored_mb"] > 0
    for key in compare.PRIMITIVES:
        for threads in (1, 2):
            assert rows[f"primitive:{key}:{threads}"]["mb_per_s"] > 0
    assert rows["floor:add"]["status"] == "ok" and rows["floor:add"]["mb_per_s"] > 0

    assert rows["absent:new"]["status"] == "skipped" and "not installed" in rows["absent:new"]["note"]
    assert report["ratios"]["absent"] == {"new_speed": None, "new_peak_rss": None,
                                          "again_speed": None, "again_peak_rss": None}
    assert {t["status"] for t in report["targets"]} <= {"met", "missed", "not measured"}
    assert [t["status"] for t in report["targets"][:2]] == ["not measured"] * 2  # no restic, no age

    assert "testimony add" in compare.render(report)
    json.dumps(report)
    assert not (tmp_path / "runs" / "round-1").exists()  # each round's repositories are removed
