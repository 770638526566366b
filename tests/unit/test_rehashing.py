"""`verify` re-hashing evidence in worker processes (a large archive) gives the same
verdicts as in its own process: good files pass, a changed chunk is named."""

from __future__ import annotations

import os

import pytest

from archive import rehashing


@pytest.fixture(params=["here", "processes"])
def where(request, monkeypatch):
    monkeypatch.setattr(rehashing, "PROCESS_BYTES", 0 if request.param == "processes" else 1 << 60)
    monkeypatch.setattr(rehashing, "_JOB_BYTES", 1)   # one file per job: several jobs in flight
    started = []
    real = rehashing.WorkerPool
    monkeypatch.setattr(rehashing, "WorkerPool", lambda *a, **k: started.append(1) or real(*a, **k))
    yield request.param
    assert bool(started) == (request.param == "processes")


def _files(tmp_path, sizes):
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"evidence-{i}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def test_every_file_verified(archive, tmp_path, where):
    summary = archive.add(_files(tmp_path, [10, 70_000, 2_500_000, 1_048_576]))
    report = archive.verify()
    assert report.ok and len(report.records) == summary.new == 4
    assert sum(r.attachments_checked for r in report.records) == 4


def test_a_changed_chunk_is_named(archive, tmp_path, where):
    archive.add(_files(tmp_path, [300_000, 2_100_000, 5000]))
    # Flip one byte inside the largest evidence chunk, in its pack.
    pack, at, length = archive.index.db.execute(
        "SELECT pack, offset, length FROM objects WHERE kind = 'chunk' ORDER BY length DESC LIMIT 1").fetchone()
    path = archive.store.pack_path(pack)
    data = bytearray(path.read_bytes())
    data[at + length // 2] ^= 0x40
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))
    report = archive.verify()
    failed = [r for r in report.records if not r.ok]
    assert len(failed) == 1 and len(report.records) == 3
    assert "does not match its id" in failed[0].problems[0] and "attachment" in failed[0].problems[0]
