"""Benchmark fixtures: generated data, fresh archives, and MB/s figures.

Two modes. `pytest benchmarks --benchmark-only` (make bench) measures at full scale:
a corpus of BENCH_CORPUS_MB (default 64) and BENCH_LIST_RECORDS records (default
10,000). `pytest benchmarks --benchmark-disable` (part of make test) runs each benchmark
once on small data, as a quick check that they still work. Every archive uses the
`interactive` KDF profile, as the tests do. Everything generated is removed at the end
of the session.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Iterator

import pytest

from archive.api import Archive

from .corpus import MB, Corpus, generate_corpus, generate_tiny_files

PASSPHRASE = "benchmark staple violet harbour 1947"
KDF = "interactive"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def full_scale(config: pytest.Config) -> bool:
    """True when benchmarks really run; False under --benchmark-disable (a smoke run)."""
    return config.getoption("benchmark_enable") or not config.getoption("benchmark_disable")


@pytest.fixture(scope="session")
def at_full_scale(request: pytest.FixtureRequest) -> bool:
    return full_scale(request.config)


@pytest.fixture(scope="session")
def rounds(at_full_scale: bool) -> int:
    """Timed rounds of the slow `add` benchmarks (BENCH_ROUNDS, default 3)."""
    return _env_int("BENCH_ROUNDS", 3) if at_full_scale else 1


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary folder for the whole session, removed at the end (it can hold GBs)."""
    folder = tmp_path_factory.mktemp("testimony-bench")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def new_archive(folder: Path) -> Archive:
    """A fresh, unlocked archive with its keys beside it under `folder`."""
    return Archive.create(folder / "home", folder / "keys", name="Benchmark field team",
                          passphrase=PASSPHRASE, kdf=KDF)


@pytest.fixture(scope="session")
def corpus(scratch: Path, at_full_scale: bool) -> Corpus:
    """The generated corpus: BENCH_CORPUS_MB (default 64), or BENCH_SMOKE_CORPUS_MB (12)."""
    megabytes = (_env_int("BENCH_CORPUS_MB", 64) if at_full_scale
                 else _env_int("BENCH_SMOKE_CORPUS_MB", 12))
    return generate_corpus(scratch / "corpus", megabytes * MB)


@pytest.fixture(scope="session")
def filled_archive(corpus: Corpus, scratch: Path) -> Iterator[Archive]:
    """An archive holding the corpus (for adding it again, verifying, checking)."""
    folder = scratch / "filled"
    archive = new_archive(folder)
    archive.add([corpus.root])
    yield archive
    archive.close()
    shutil.rmtree(folder)


class ListedArchive:
    def __init__(self, archive: Archive, records: int, add_seconds: float) -> None:
        self.archive, self.records, self.add_seconds = archive, records, add_seconds


@pytest.fixture(scope="session")
def listed_archive(scratch: Path, at_full_scale: bool) -> Iterator[ListedArchive]:
    """An archive of BENCH_LIST_RECORDS (default 10,000; 200 in a smoke run) records,
    made in one `add` of as many tiny distinct files."""
    count = _env_int("BENCH_LIST_RECORDS", 10_000) if at_full_scale else 200
    folder = scratch / "list"
    generate_tiny_files(folder / "notes", count)
    archive = new_archive(folder)
    started = time.perf_counter()
    summary = archive.add([folder / "notes"])
    seconds = time.perf_counter() - started
    assert summary.new == count, summary
    shutil.rmtree(folder / "notes")
    yield ListedArchive(archive, count, seconds)
    archive.close()


class CpuMeter:
    """How busy the machine was with other work while a benchmark ran (Linux).

    The machine is shared: other sessions' test suites can take a core or both. The
    CPU time the whole machine spent (from /proc/stat), less this process's own (and
    its children's), over the wall time, is the number of cores others kept busy.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        ticks = [int(f) for f in fields]
        busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
        own = os.times()
        return (busy / os.sysconf("SC_CLK_TCK"),
                own.user + own.system + own.children_user + own.children_system, time.monotonic())

    def others_cores(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        others = (end[0] - self._start[0]) - (end[1] - self._start[1])
        return round(max(0.0, others) / (end[2] - self._start[2]), 2)


@pytest.fixture(autouse=True)
def machine_load(request: pytest.FixtureRequest) -> Iterator[None]:
    """Record in extra_info how many cores other processes used during the benchmark."""
    benchmark = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    meter = CpuMeter()
    yield
    if benchmark is not None:
        benchmark.extra_info["other_processes_cores"] = meter.others_cores()


def record_rate(benchmark, nbytes: int, **extra: object) -> None:
    """Put MB/s (decimal MB, from the mean and from the fastest round) into extra_info."""
    benchmark.extra_info.update(extra)
    benchmark.extra_info["bytes_per_round"] = nbytes
    if benchmark.enabled and benchmark.stats is not None:
        stats = benchmark.stats.stats
        benchmark.extra_info["mb_per_s_mean"] = round(nbytes / MB / stats.mean, 1)
        benchmark.extra_info["mb_per_s_best"] = round(nbytes / MB / stats.min, 1)
