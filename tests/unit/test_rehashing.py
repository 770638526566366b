"""`verify` re-hashing evidence in worker processes (a large archive) gives the same
verdicts as in its own process: good files pass, a changed chunk is named."""

from __future__ import annotations

import os

import pytest

from archive import crypto, records, rehashing


@pytest.fixture(params=["here", "processes"])
def where(request, monkeypatch):
    monkeypatch.setattr(rehashing, "PROCESS_BYTES", 0 if request.param == "processes" else 1 << 60)
    monkeypatch.setattr(rehashing, "PROCESS_RECORDS", 1 << 60)
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


def _envelope_place(archive, record_id):
    envelope = archive.index.record(record_id).envelope_id
    pack, where = archive.index.locate(envelope)
    return archive.store.pack_path(pack), where


def test_envelopes_are_opened_in_order_across_batches(archive, tmp_path, where, monkeypatch):
    """More records than one opening job holds: every verdict lands on its own record."""
    monkeypatch.setattr(rehashing, "_OPEN_BATCH", 3)
    summary = archive.add(_files(tmp_path, [100 + i for i in range(11)]))
    report = archive.verify()
    assert report.ok and [r.record_id for r in report.records] == sorted(r for _, r in summary.new_records)
    assert all(r.attachments_checked == 1 and r.signer for r in report.records)


def test_a_damaged_or_swapped_envelope_is_named_and_the_rest_verify(archive, tmp_path, where, monkeypatch):
    monkeypatch.setattr(rehashing, "_OPEN_BATCH", 2)
    summary = archive.add(_files(tmp_path, [500 + i for i in range(6)]))
    ids = sorted(r for _, r in summary.new_records)
    # The index points record 1 at record 2's envelope (a swapped row).
    archive.index.db.execute("UPDATE records SET envelope = ? WHERE id = ?",
                             [archive.index.record(ids[2]).envelope_id, ids[1]])
    # Record 4's envelope: one byte of its ciphertext flipped and the object renamed to
    # match, so the store's id check passes and only opening can tell.
    path, at = _envelope_place(archive, ids[4])
    data = bytearray(path.read_bytes())
    data[at.offset + at.length - 20] ^= 0x01
    import hashlib
    new_id = hashlib.sha256(bytes(data[at.offset:at.offset + at.length])).digest()
    data[at.offset - 36:at.offset - 4] = new_id
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))
    archive.index.db.execute("UPDATE objects SET id = ? WHERE id = ?", [new_id, at.object_id])
    archive.index.db.execute("UPDATE records SET envelope = ? WHERE id = ?", [new_id, ids[4]])
    # Record 5's envelope is gone from the index.
    archive.index.db.execute("DELETE FROM objects WHERE id = ?", [archive.index.record(ids[5]).envelope_id])
    report = {r.record_id: r for r in archive.verify().records}
    assert [i for i in ids if report[i].ok] == [ids[0], ids[2], ids[3]]
    assert f"holds record {ids[2][:16]}" in report[ids[1]].problems[0]
    assert "failed authentication" in report[ids[4]].problems[0]
    assert "missing from the index" in report[ids[5]].problems[0]


def test_many_records_use_the_workers_even_with_little_evidence(archive, tmp_path, monkeypatch):
    """Opening envelopes is the work of a verify of many small notes: workers from
    PROCESS_RECORDS records on, whatever the bytes."""
    monkeypatch.setattr(rehashing, "PROCESS_BYTES", 1 << 60)
    monkeypatch.setattr(rehashing, "PROCESS_RECORDS", 3)
    started = []
    real = rehashing.WorkerPool
    monkeypatch.setattr(rehashing, "WorkerPool", lambda *a, **k: started.append(1) or real(*a, **k))
    archive.add(_files(tmp_path, [50, 60, 70]))
    assert archive.verify().ok and started


def test_check_read_data_opens_records_in_the_workers_when_there_are_many(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(rehashing, "PROCESS_RECORDS", 3)
    monkeypatch.setattr(rehashing, "_OPEN_BATCH", 2)
    started = []
    real = rehashing.WorkerPool
    monkeypatch.setattr(rehashing, "WorkerPool", lambda *a, **k: started.append(1) or real(*a, **k))
    summary = archive.add(_files(tmp_path, [700 + i for i in range(5)]))
    assert archive.check(read_data=True).ok and started
    ids = sorted(r for _, r in summary.new_records)
    # Record 1 names a chunk the index no longer has; record 3's row points at record 0's envelope.
    opened = archive._open(ids[1])
    [refs] = opened.chunks.values()
    archive.index.db.execute("DELETE FROM objects WHERE id = ?", [bytes.fromhex(refs[0]["id"])])
    archive.index.db.execute("UPDATE records SET envelope = ? WHERE id = ?",
                             [archive.index.record(ids[0]).envelope_id, ids[3]])
    problems = archive.check(read_data=True).problems
    assert any(p.startswith(f"record {ids[1][:16]}: 1 of 1 evidence chunks are missing") for p in problems)
    assert any(p.startswith(f"record {ids[3][:16]}: the envelope indexed as record") for p in problems)
    assert not any(p.startswith(f"record {ids[i][:16]}") for p in problems for i in (0, 2, 4))


def _reseal_meta(archive, record_id, change):
    """Rewrite a record's sealed index metadata (as an older testimony, or a damaged hint, would have it)."""
    row = archive.index.record(record_id)
    meta = archive.sealer.open(record_id, row.sealed)
    change(meta)
    archive.index.db.execute("UPDATE records SET sealed = ? WHERE id = ?",
                             [archive.sealer.seal(record_id, meta), record_id])


def test_the_index_keeps_which_stanza_is_ours_and_opening_tries_it_first(archive, tmp_path, monkeypatch):
    """Every way a record enters the index (add, record) keeps the slot our key opens;
    verify and check then open one stanza per record, not one after another."""
    summary = archive.add(_files(tmp_path, [10, 20, 30, 40, 50, 60]))
    ids = sorted(r for _, r in summary.new_records)
    for record_id in ids:
        meta = archive.sealer.open(record_id, archive.index.record(record_id).sealed)
        envelope = archive._read_object(archive.index.record(record_id).envelope_id)
        assert records.open_envelope(envelope, archive.keys.box_secret).slot == meta["slot"]
    tries = []
    real = crypto.open_sealed
    monkeypatch.setattr(crypto, "open_sealed", lambda *a: tries.append(1) or real(*a))
    assert archive.verify().ok and len(tries) == len(ids)
    tries.clear()
    assert archive.check(read_data=True).ok and len(tries) == len(ids)


def test_rows_without_a_slot_or_with_a_wrong_one_still_open(archive, tmp_path, where):
    summary = archive.add(_files(tmp_path, [10, 20, 30, 2_000_000]))
    ids = sorted(r for _, r in summary.new_records)
    _reseal_meta(archive, ids[0], lambda m: m.pop("slot"))                    # written before the hint
    _reseal_meta(archive, ids[1], lambda m: m.update(slot=(m["slot"] + 1) % 4))  # a wrong hint
    _reseal_meta(archive, ids[2], lambda m: m.update(slot=10_000))            # an absurd one
    report = archive.verify()
    assert report.ok and len(report.records) == 4
    assert archive.check(read_data=True).ok


def test_check_names_a_record_whose_sealed_metadata_does_not_open(archive, tmp_path, where):
    summary = archive.add(_files(tmp_path, [10, 20, 30]))
    ids = sorted(r for _, r in summary.new_records)
    sealed = bytearray(archive.index.record(ids[1]).sealed)
    sealed[-1] ^= 1
    archive.index.db.execute("UPDATE records SET sealed = ? WHERE id = ?", [bytes(sealed), ids[1]])
    problems = archive.check(read_data=True).problems
    assert len(problems) == 1 and problems[0].startswith(f"record {ids[1][:16]}: ")
    assert archive.verify().ok   # verify reads the envelope, not the index's copy of it
