"""The work the formats themselves demand, for one corpus: the ceiling any implementation
of DESIGN.md in Python could reach on this machine (issue 5).

    .venv/bin/python -m benchmarks.floor                      # the 600 MB corpus, 3 rounds
    .venv/bin/python -m benchmarks.floor --scale 0.1 --rounds 1

For every file of the corpus, exactly what the formats require and nothing else, with
the archive's own functions: no pipeline, no queues, no pack files, no index, no fsync.

  add     per file: SHA-256 of its bytes (and the keyed dedup MAC); per new file, every
          1 MiB chunk's HMAC key, AES-256-GCM and SHA-256 id (archive.chunks.encrypt_chunk),
          then its record: statement, two Ed25519 signatures (statement, SSH), an envelope
          of 4 sealed-box stanzas and XChaCha20-Poly1305 (create_record), its sealed index
          metadata and its signed `recorded` custody event.
  verify  per record: open_envelope (the one stanza that is ours, which the index keeps:
          one X25519 opening, not one per stanza tried; signatures and every disclosure
          checked); per chunk: SHA-256 against its id and AES-256-GCM open; per file: size
          and SHA-256 against the statement (archive.chunks.decrypt_file_chunks).
  check   (with --read-data) SHA-256 of every object against its id, and every record opened.

The files are shared between worker processes (`--processes`, default 2 = this machine's
cores; largest first, each to the least loaded), so nothing waits on the GIL. Each phase is
timed on its own, files already in memory (read once, untimed: reading from the page
cache costs about 0.1 s per GB here, benchmarks/compare.md). MB/s counts corpus bytes,
duplicates included, as `testimony add` reports them. A real command can only be slower.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive import constants as C  # noqa: E402
from archive import crypto  # noqa: E402
from archive.chunks import decrypt_file_chunks, encrypt_chunk, padded_chunks  # noqa: E402
from archive.custody import sign_event  # noqa: E402
from archive.sealedrows import MetaSealer  # noqa: E402
from archive.sealing import media_type  # noqa: E402
from archive.keys import create_identity  # noqa: E402
from archive.records import Draft, create_record, index_meta, open_envelope  # noqa: E402
from benchmarks.corpus import MB, Corpus, generate_corpus  # noqa: E402

PHASES = ("add", "verify", "check", "add_a", "add_ac", "verify_b")
LABELS = {"add": "add", "verify": "verify", "check": "check --read-data",
          "add_a": "add, proposal A (chunk keys from the file hash)",
          "add_ac": "add, proposals A and C (a record per 32 files)",
          "verify_b": "verify, proposal B (no id re-hash)"}
_CREATED = "2026-11-28T12:00:00Z"


def _work(args: tuple[list[tuple[str, str]], tuple[str, ...]]) -> dict[str, float]:
    """One worker: each phase asked for over its share of the files; seconds per phase
    (`add` always runs: the others read what it made)."""
    files, phases = args
    keys = create_identity("Floor field team", created=_CREATED)
    sealer, keyer = MetaSealer(keys.index_key), crypto.ChunkKeyer(keys.convergence_secret)
    contents = [(name, Path(path).read_bytes()) for path, name in files]

    def today(sha: bytes, data: bytes) -> list[tuple[bytes, dict, bytes]]:
        return [(c.object_id, c.ref(), c.obj) for c in (encrypt_chunk(keyer, p) for p in padded_chunks(data))]

    base = hmac.new(keys.convergence_secret, C.CHUNK, "sha256")

    def proposal_a(sha: bytes, data: bytes) -> list[tuple[bytes, dict, bytes]]:
        """Proposal A (not the format today): a chunk's key from the file's SHA-256 and the
        chunk's index, so chunk bytes go through SHA-256 twice (file hash, object id), not
        three times."""
        out = []
        for i, chunk in enumerate(padded_chunks(data)):
            keyed = base.copy()
            keyed.update(sha + i.to_bytes(8, "big"))
            key = keyed.digest()
            obj = crypto.chunk_encrypt(key, chunk)
            object_id = hashlib.sha256(obj).digest()
            out.append((object_id, {"id": object_id.hex(), "key": key.hex(), "size": len(chunk)}, obj))
        return out

    seconds: dict[str, float] = {}
    seconds["add"], stored = _add(keys, sealer, contents, today)
    if "verify" in phases:
        seconds["verify"] = _verify(keys, stored, check_ids=True)
    if "check" in phases:
        seconds["check"] = _check(keys, stored)
    if "add_a" in phases:
        seconds["add_a"], _ = _add(keys, sealer, contents, proposal_a)
    if "add_ac" in phases:
        seconds["add_ac"], _ = _add(keys, sealer, contents, proposal_a, per_record=32)
    if "verify_b" in phases:
        seconds["verify_b"] = _verify(keys, stored, check_ids=False)
    return {**seconds, "records": len(stored), "chunks": sum(len(objects) for _, _, objects, _ in stored)}


def _add(keys, sealer, contents, encrypt, *, per_record: int = 1) -> tuple[float, list]:
    """`add`: each file hashed, each new one encrypted by `encrypt(sha256, bytes)` into
    (id, ref, object) chunks and made a record; (seconds, what a store would hold).

    `per_record` > 1 is proposal C (not the format today): one evidence record per that
    many new files of one `add`, each file an attachment of its own (a digest in the
    statement, so each can still be disclosed alone, §24): the signatures, sealed boxes
    and custody event are paid once per group."""
    seen: set[bytes] = set()
    stored: list[tuple[bytes, int, dict[bytes, bytes], dict]] = []   # envelope, our stanza, objects, attachment
    group: list[tuple[dict, list]] = []                          # attachment, chunks

    def seal() -> None:
        attachments = tuple(a for a, _ in group)
        fields = {"title": attachments[0]["name"] if len(group) == 1 else "folder"}
        record = create_record(keys, Draft("evidence", fields, attachments),
                               chunks={a["sha256"]: [ref for _, ref, _ in chunks] for a, chunks in group},
                               recipients=[], created=_CREATED)
        sealer.seal(record.record_id, index_meta(record.statement, fields, list(attachments), slot=record.slot))
        event = sign_event(keys, event="recorded", envelope=record.envelope_id, record=record.record_id,
                           peer=None, bundle=None, time=_CREATED)
        sealer.custody_row(event.event_id, event.envelope, event.raw, leaf=event.leaf_hash)
        if per_record == 1:
            stored.append((record.envelope, record.slot, {oid: obj for oid, _, obj in group[0][1]},
                           group[0][0]))
        group.clear()

    started = time.perf_counter()
    for name, data in contents:
        sha = hashlib.sha256(data).digest()
        mac = sealer.dedup_mac(sha)
        if mac in seen:
            continue
        seen.add(mac)
        group.append(({"name": name, "media_type": media_type(name), "size": len(data),
                       "sha256": sha.hex()}, encrypt(sha, data)))
        if len(group) == per_record:
            seal()
    if group:
        seal()
    return time.perf_counter() - started, stored


def _verify(keys, stored, *, check_ids: bool) -> float:
    """`verify`; without `check_ids`, proposal B (not the design today): AES-GCM, under the
    chunk keys the signed envelope holds, vouches for each chunk and only the file is
    re-hashed; ids stay checked by `check --read-data` and by every bundle import."""
    started = time.perf_counter()
    for envelope, slot, objects, attachment in stored:
        opened = open_envelope(envelope, keys.box_secret, slot=slot)

        def fetch(object_id: bytes) -> bytes:
            obj = objects[object_id]
            if check_ids and hashlib.sha256(obj).digest() != object_id:
                raise AssertionError("object does not match its id")
            return obj
        for _ in decrypt_file_chunks(opened.chunks[attachment["sha256"]], fetch,
                                     size=attachment["size"], sha256_hex=attachment["sha256"]):
            pass
    return time.perf_counter() - started


def _check(keys, stored) -> float:
    """`check --read-data`: every object against its id, every record opened."""
    started = time.perf_counter()
    for envelope, slot, objects, _ in stored:
        for object_id, obj in objects.items():
            if hashlib.sha256(obj).digest() != object_id:
                raise AssertionError("object does not match its id")
        hashlib.sha256(envelope).digest()
        open_envelope(envelope, keys.box_secret, slot=slot)
    return time.perf_counter() - started


def shares(corpus: Corpus, processes: int) -> list[list[tuple[str, str]]]:
    """The corpus's files split for `processes` workers: largest first, to the lightest.
    Duplicates go with their original, so each is recognised where its first copy was."""
    files = sorted((p for p in corpus.root.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size,
                   reverse=True)
    by_hash: dict[bytes, int] = {}
    loads, parts = [0] * processes, [[] for _ in range(processes)]
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).digest()
        i = by_hash.setdefault(digest, loads.index(min(loads)))
        parts[i].append((str(path), str(path.relative_to(corpus.root))))
        loads[i] += path.stat().st_size
    return parts


def measure(corpus: Corpus, *, processes: int = 2, rounds: int = 3,
            phases: tuple[str, ...] = PHASES) -> dict[str, list[float]]:
    """Seconds of each phase per round: the slowest worker's (they run side by side); and
    the records and chunk objects made in the last round, over all workers."""
    parts = shares(corpus, processes)
    result: dict[str, list[float]] = {phase: [] for phase in phases}
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for _ in range(rounds):
            per_worker = pool.map(_work, [(part, phases) for part in parts])
            for phase in phases:
                result[phase].append(max(w[phase] for w in per_worker))
    result["records"] = [sum(w["records"] for w in per_worker)]
    result["chunks"] = [sum(w["chunks"] for w in per_worker)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size, times 600 MB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="testimony-floor-") as work:
        corpus = generate_corpus(Path(work) / "corpus", int(600 * MB * args.scale))
        print(f"corpus: {corpus.describe()}")
        for processes in sorted({1, args.processes}):
            seconds = measure(corpus, processes=processes, rounds=args.rounds)
            for phase in PHASES:
                rates = [corpus.total_bytes / MB / s for s in seconds[phase]]
                print(f"{LABELS[phase]:48} {processes} process{'es' * (processes > 1)}: "
                      f"{statistics.median(rates):7,.0f} MB/s median "
                      f"({min(rates):,.0f}–{max(rates):,.0f}), {min(seconds[phase]):.2f} s best")
    return 0


if __name__ == "__main__":
    sys.exit(main())
