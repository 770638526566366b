"""Every fuzz harness runs under libFuzzer for a few seconds, from its whole seed corpus,
and finds nothing: so that no harness rots between `make fuzz` runs. About 12 s in all."""

from __future__ import annotations

import re

import pytest

from tests.fuzz import run

SECONDS = 2            # per harness, after start-up
MIN_EXECUTIONS = 25    # the slowest harness (disclosure) runs ~150/s on a laptop


@pytest.mark.parametrize("target", run.TARGETS)
def test_harness_runs_briefly_without_finding_anything(target, tmp_path):
    o = run.run_target(target, tmp_path, seconds=SECONDS, extra=("-seed=1",), timeout=180)
    log = o.log.read_text("utf-8", "replace")
    assert o.returncode == 0 and not o.artifacts, log[-4000:]
    seeds = len([p for p in (run.CORPUS_DIR / target).iterdir() if p.is_file()])
    assert re.search(rf"seed corpus: files: {seeds} ", log), log[-4000:]
    assert o.executions >= MIN_EXECUTIONS, log[-4000:]
