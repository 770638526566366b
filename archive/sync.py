"""What to send to whom, and the import transaction.

Records are a grow-only set, so peers never conflict. An export to peer P holds every
object P has not acknowledged (P sent it to us, or P acked a bundle holding it), so a
lost stick never loses a testimony. An import is all or nothing: objects are staged in
tmp/ and become visible, with every index row, custody event and ack, in one
transaction once the whole bundle has checked out.
"""

from __future__ import annotations

import os
import re
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import constants as C
from . import crypto
from .bundle import BundleReader, encode_manifest, write_bundle
from .custody import CustodyEvent, check_event, sign_event
from .custodylog import (OwnLog, ProofTree, TreeHead, check_consistency, check_head,
                         inclusion_dict, open_head, seal_head)
from .encoding import canonical
from .errors import ArchiveError, FormatError, RollbackError, TrustError, UsageError
from .fsutil import fsync_dir
from .index import Index
from .sealedrows import MetaSealer, RecordRow
from .keys import SecretKeys
from .peerbook import PeerBook
from .prefetch import prefetched
from .peers import Peer, check_revocation
from .receiving import Receipt, Workers, custody_row
from .store import PackWriter, Store

_SIZE_RE = re.compile(r"\A\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:I?B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# Bytes a bundle spends beyond its objects' frames, and per listed object in the manifest.
_FIXED_OVERHEAD = 64 * 1024 * 2 + 4096
_PER_OBJECT = 5 + 32 + 120
_PER_EVENT = 2560              # a custody event with its inclusion proof, in the manifest
_MANIFEST_HEADROOM = 1 << 20   # heads, consistency proofs, the sender's card


def parse_size(text: str) -> int:
    """'3.9G' → bytes (K, M, G, T are powers of 1024: 3.9G fits a FAT32 stick)."""
    match = _SIZE_RE.match(text)
    if not match:
        raise UsageError(f"{text!r} is not a size (e.g. 3.9G, 700M, 1500000)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass
class ExportResult:
    files: list[tuple[Path, int, int]] = field(default_factory=list)   # (path, bytes, objects)
    objects: int = 0
    object_bytes: int = 0
    acks: int = 0


@dataclass
class ImportResult:
    path: Path
    bundle_id: str = ""
    sender: str = ""
    already_imported: bool = False
    new_objects: int = 0
    held_objects: int = 0
    new_records: int = 0
    relay_only: int = 0               # envelopes not addressed to us: kept to relay on
    refused_revoked: int = 0
    acks: int = 0
    gaps: list[int] = field(default_factory=list)
    revocations: int = 0


@dataclass
class InspectResult:
    sender_name: str
    sender_fingerprint: str
    sender_status: str
    signature_ok: bool
    intact: bool
    bundle_id: str
    created: str
    recipients: list[str]
    objects: int
    object_bytes: int
    new_objects: int
    envelopes: int
    custody_events: int
    acks: int
    revocations: int
    already_imported: bool
    problem: str = ""


class Sync:
    def __init__(self, *, index: Index, store: Store, keys: SecretKeys, sealer: MetaSealer,
                 peers: PeerBook, now: Callable[[], str]) -> None:
        self.index, self.store, self.keys, self.sealer = index, store, keys, sealer
        self.peers, self.now = peers, now

    # --- custody rows ----------------------------------------------------------------------
    def custody_row(self, event: CustodyEvent) -> tuple[bytes, bytes, bytes, bytes | None]:
        return custody_row(self.sealer, self.keys.card.fingerprint, event)

    def events_for(self, envelopes: list[bytes]) -> list[CustodyEvent]:
        """Stored custody events. Each was checked (or signed by us) when stored, and the
        sealed row authenticates it, so its signature is not verified again here; every
        reader outside this archive verifies it."""
        return [check_event(self.sealer.open(eid.hex(), sealed), signature_checked=True)
                for eid, sealed in self.index.custody_for(envelopes)]

    # --- export ----------------------------------------------------------------------------
    def export(self, recipients: list[Peer], out: Path, *, mode: str = "unacked",
               max_size: int | None = None,
               progress: Callable[[int], None] | None = None) -> ExportResult:
        if not recipients:
            raise UsageError("name at least one peer with --to (or set default recipients)")
        if len(recipients) > C.BUNDLE_STANZAS:
            raise UsageError(f"a bundle has at most {C.BUNDLE_STANZAS} recipients")
        for peer in recipients:
            if not peer.trusted:
                raise TrustError(f"{peer.name!r} was revoked on {peer.revoked}; nothing was exported")
        out = Path(out)
        if out.exists():
            raise UsageError(f"{out} already exists; nothing was overwritten")
        if not out.parent.is_dir():
            raise UsageError(f"the folder {out.parent} does not exist")
        peer_ids = {p.fingerprint: self.peers.peer_id(p) for p in recipients}
        chosen = self._choose(list(peer_ids.values()), mode)
        acks = sorted({b for pid in peer_ids.values() for b, _ in self.index.received_from(pid)})
        revocations = [r.signed for r, _ in self.peers.revocations()]
        # Every piece repeats the acks and revocations, and gains one `exported` event per
        # envelope and recipient: --max-size must budget for them.
        groups = self._split(chosen, max_size, fixed=len(canonical([acks, revocations])),
                             recipients=len(recipients))
        names = _bundle_names(out, len(groups))
        result = ExportResult()
        for path, group in zip(names, groups):
            size = self._write_one(path, group, recipients, peer_ids, acks, revocations, progress)
            result.files.append((path, size, len(group)))
            result.objects += len(group)
            result.object_bytes += sum(s for _, _, s in group)
        result.acks = len(acks)
        return result

    def _choose(self, peer_ids: list[str], mode: str) -> list[tuple[bytes, str, int]]:
        """Objects in store order (a record's chunks come just before its envelope)."""
        everything = [o for o in self.index.all_objects() if o[1] in ("envelope", "chunk")]
        if mode == "all":
            return everything
        skip: set[bytes] | None = None
        for pid in peer_ids:  # an object is left out only if every recipient has it
            held = self.index.objects_held_by(pid)
            if mode == "new-only":
                held |= self.index.objects_sent_to(pid)
            skip = held if skip is None else skip & held
        return [o for o in everything if o[0] not in (skip or set())]

    def _split(self, objects: list[tuple[bytes, str, int]], max_size: int | None, *,
               fixed: int = 0, recipients: int = 1) -> list[list[tuple[bytes, str, int]]]:
        """Groups of objects, one bundle each: within --max-size when given, and always
        within the manifest's limit (each custody event with its proof costs up to
        _PER_EVENT manifest bytes), so an export of many records never fails on it."""
        events = self.index.custody_counts()
        manifest_budget = C.BUNDLE_MAX_MANIFEST - _MANIFEST_HEADROOM - fixed
        if max_size is None:
            budget = None
        else:
            # A budget of frame bytes: each 64 KiB of them costs 17 more bytes once sealed.
            budget = ((max_size - _FIXED_OVERHEAD - fixed) * C.BUNDLE_MESSAGE_BYTES
                      // (C.BUNDLE_MESSAGE_BYTES + C.SECRETSTREAM_ABYTES))
            biggest = max((s for _, _, s in objects), default=0)
            if budget < biggest + _PER_OBJECT + _PER_EVENT:
                raise UsageError(f"--max-size {max_size:,} bytes is too small for these objects "
                                 f"(the largest is {biggest:,} bytes)")
        groups: list[list[tuple[bytes, str, int]]] = [[]]
        used = listed = 0
        for obj in objects:
            listing = _PER_OBJECT + (_PER_EVENT * (events.get(obj[0], 0) + recipients)
                                     if obj[1] == "envelope" else 0)
            cost = obj[2] + listing
            if groups[-1] and (listed + listing > manifest_budget
                               or (budget is not None and used + cost > budget)):
                groups.append([])
                used = listed = 0
            groups[-1].append(obj)
            used += cost
            listed += listing
        return groups

    def _write_one(self, path: Path, group: list[tuple[bytes, str, int]], recipients: list[Peer],
                   peer_ids: dict[str, str], acks: list[str], revocations: list[dict[str, Any]],
                   progress: Callable[[int], None] | None) -> int:
        bundle_id = crypto.random_bytes(32).hex()
        created = self.now()
        envelopes = [oid for oid, kind, _ in group if kind == "envelope"]
        record_of = {row.envelope_id: row.record_id for row in self.index.records()}
        new_events = [sign_event(self.keys, event="exported", envelope=e, record=record_of.get(e),
                                 peer=p.fingerprint, bundle=bundle_id, time=created)
                      for e in envelopes for p in recipients]
        sequences = {p.fingerprint: self.index.last_sequence_sent(peer_ids[p.fingerprint]) + 1
                     for p in recipients}
        # The new events join our log, and its head is signed, before the bundle is
        # written: a head in a bundle must never cover events we could still lose.
        with self.index.transaction():
            self.index.insert_custody(self.custody_row(e) for e in new_events)
            head = OwnLog(self.index, self.keys, self.sealer, self.now).head()
            # Recorded as shown before the file exists: a crash after writing must not leave
            # a head the recipient holds but our next consistency proofs skip (a false fork).
            for pid in peer_ids.values():
                self.index.record_head_sent(pid, head.size)
        custody, heads = self._custody_with_proofs(self.events_for(envelopes), head)
        old_sizes = [n for pid in peer_ids.values() for n in self.index.head_sizes_sent(pid)]
        consistency = OwnLog(self.index, self.keys, self.sealer, self.now).consistency(old_sizes, head)
        manifest = encode_manifest(
            bundle_id=bundle_id, sender=self.keys.card, recipients=[p.fingerprint for p in recipients],
            created=created, sequence=sequences, objects=group, acks=acks,
            custody=custody, revocations=revocations, heads=heads, consistency=consistency)
        if len(manifest) > C.BUNDLE_MAX_MANIFEST:
            raise UsageError("this export's manifest would exceed 64 MiB; use --max-size to split it")

        def objects():
            for oid, _, _ in group:
                data = self._read(oid)
                if progress:
                    progress(len(data))
                yield oid, data

        # A name of its own: the partial file of an export killed earlier must neither
        # block this one (reported as "already exists") nor be another process's to delete.
        tmp = path.with_name(f".{path.name}.{crypto.random_bytes(8).hex()}.partial")
        try:
            with open(tmp, "xb") as f:
                size = write_bundle(f, recipient_box_keys=[p.card.box_key for p in recipients],
                                    signing_seed=self.keys.sign_seed,
                                    signer_fingerprint=self.keys.card.fingerprint,
                                    manifest=manifest, objects=objects())
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)  # never replaces a file that appeared meanwhile
        except FileExistsError as e:
            raise UsageError(f"{path} already exists; nothing was overwritten") from e
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror}") from e
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
        with self.index.transaction():
            self.index.record_sent(bundle_id, sequences={peer_ids[fp]: n for fp, n in sequences.items()},
                                   created=created, object_ids=[oid for oid, _, _ in group])
        return size

    def _custody_with_proofs(self, events: list[CustodyEvent],
                             head: TreeHead) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Each event with its inclusion proof: ours against our new head, others' as
        they reached us; and every head those proofs name."""
        tree = ProofTree(self.index.log_leaves()[:head.size])
        positions = self.index.log_positions()
        heads = {head.head_id: head.signed}
        items = []
        for event in events:
            inclusion = None
            if event.actor == self.keys.card.fingerprint:
                at = positions.get(event.event_id)
                if at is not None and at < head.size:
                    inclusion = inclusion_dict(head, at, tree.path(at))
            else:
                stored = self.stored_proof(event.event_id)
                if stored is not None:
                    inclusion, other = stored
                    heads[other.head_id] = other.signed
            items.append({"event": event.signed, "inclusion": inclusion})
        return items, list(heads.values())

    def stored_proof(self, event_id: bytes) -> tuple[dict[str, Any], TreeHead] | None:
        """Another archive's proof that one of its events is in its log, and that head."""
        sealed = self.index.get_proof(event_id)
        if sealed is None:
            return None
        inclusion = self.sealer.open(event_id.hex(), sealed)
        head_id = bytes.fromhex(inclusion["head"])
        head, _ = open_head(self.sealer, head_id, self.index.get_head(head_id))
        return inclusion, head

    def _read(self, object_id: bytes) -> bytes:
        where = self.index.locate(object_id)
        if where is None:
            raise FormatError(f"object {object_id.hex()[:16]} vanished from the index")
        return self.store.read(where[0], where[1])

    # --- import ----------------------------------------------------------------------------
    def import_bundle(self, path: Path, *,
                      progress: Callable[[int], None] | None = None) -> ImportResult:
        result = ImportResult(Path(path))
        with _open_bundle(path) as (f, size):
            reader = BundleReader(f, size, self.keys.box_secret, self.peers.sign_key_for)
            m = reader.manifest
            result.bundle_id, result.sender = m.bundle_id, self.peers.describe(m.sender.fingerprint)
            if self.keys.card.fingerprint not in m.recipients:
                raise TrustError("this bundle is not addressed to us")
            if self.index.was_received(m.bundle_id):
                result.already_imported = True
                return result
            # Everything the manifest claims is checked before anything is committed: the
            # custody events and envelopes on the workers while the objects stream into
            # staging (tmp/).
            sender_id = self.sealer.peer_id(m.sender.fingerprint)
            heads = self._check_log(m, sender_id)
            revocations = [check_revocation(r) for r in m.revocations]
            held = self.index.has_objects(o[0] for o in m.objects)
            receipt = Receipt(self.keys, m.sender.fingerprint, m.bundle_id, self.now(),
                              self.revocation_dates(), heads)
            envelopes = sum(1 for o in m.objects if o[1] == "envelope")
            staging: list[PackWriter] = []
            with Workers(receipt, jobs=envelopes + len(m.custody)) as workers:
                try:
                    checks = [workers.check_custody(m.custody[i:i + _CUSTODY_BATCH])
                              for i in range(0, len(m.custody), _CUSTODY_BATCH)]
                    staged = self._stage(reader, held, staging, result, receipt, workers, progress)
                    custody_rows, proofs = [], []
                    for check in checks:
                        part_rows, part_proofs = check.result()
                        custody_rows += part_rows
                        proofs += part_proofs
                    custody_rows += staged.custody_rows
                    self.store.begin_staged([w.pending_id for w in staging if len(w)])
                    closed = [w.close() for w in staging]   # durable before any row names them
                except BaseException:
                    for w in staging:
                        w.abort()
                    raise
        try:
            self._commit_import(m, closed, staging, staged, custody_rows, revocations, sender_id,
                                result, receipt.now, heads, proofs)
        except BaseException:
            self.store.roll_back_staged(self.index.pack_ids())
            raise
        self.store.end_staged()
        with self.index.transaction():  # a signed head dates what this import brought
            OwnLog(self.index, self.keys, self.sealer, self.now).head()
        seqs = {n for _, n in self.index.received_from(sender_id)}
        result.gaps = [n for n in range(1, max(seqs) + 1) if n not in seqs]
        return result

    def _commit_import(self, m, closed, staging, staged, custody_rows, revocations, sender_id,
                       result, now, heads, proofs) -> None:
        """The import's one transaction: packs, records, received, acks, custody, log heads
        and proofs, revocations."""
        with self.index.transaction():
            for head in heads.values():
                brought = m.consistency if head.log == m.sender.fingerprint else {}
                self.index.put_head(head.head_id, log=self.sealer.peer_id(head.log), size=head.size,
                                    via=sender_id, sealed=seal_head(self.sealer, head, brought))
            self.index.put_proofs(proofs)
            for pack, kinds in zip(closed, (w.kinds for w in staging)):
                if pack is not None:
                    self.index.insert_pack(pack, kinds=kinds)
            self.index.insert_records(staged.rows, staged.dedup)
            self.index.mark_unreadable(staged.unreadable)
            self.index.record_received(m.bundle_id, peer=sender_id,
                                       sequence=m.sequence[self.keys.card.fingerprint], imported=now)
            self.index.mark_held(sender_id, (o[0] for o in m.objects))
            result.acks = sum(self.index.acknowledge(b, sender_id) for b in m.acks)
            self.index.insert_custody(custody_rows)
            result.revocations = sum(self.peers.apply(r, now=now) for r in revocations)

    def _check_log(self, m, sender_id: str) -> dict[bytes, TreeHead]:
        """The heads in the manifest; the sender's must extend every head it showed us."""
        heads = {}
        for value in m.heads:
            head = check_head(value)
            heads[head.head_id] = head
        own = [h for h in heads.values() if h.log == m.sender.fingerprint]
        if len(own) > 1:  # only one could be checked against what the sender showed us before
            raise FormatError("a bundle carries more than one head of its sender's custody log")
        if not own:
            return heads   # a sender with nothing in its log yet (or an ack-only bundle)
        latest = max(own, key=lambda h: h.size)
        known = [open_head(self.sealer, hid, sealed)
                 for _, hid, sealed in self.index.heads_of(sender_id, via=sender_id)]
        try:
            check_consistency(latest, known, m.consistency)
        except RollbackError:
            self._keep_fork_evidence(sender_id, latest, [h for h, _ in known], m.consistency)
            raise
        return heads

    def _keep_fork_evidence(self, log: str, new: TreeHead, known: list[TreeHead],
                            consistency: Any) -> None:
        """Both heads (signed by the same key) are the proof of a forked or shrunk log."""
        evidence = {"new": new.signed, "known": [h.signed for h in known], "consistency": consistency}
        fork_id = crypto.labelled_hash(C.TREE_HEAD, canonical(evidence))
        with self.index.transaction():
            self.index.put_fork(fork_id, log=log, sealed=self.sealer.seal(fork_id.hex(), evidence))

    def _stage(self, reader: BundleReader, held: set[bytes], staging: list[PackWriter],
               result: ImportResult, receipt: Receipt, workers: Workers,
               progress: Callable[[int], None] | None) -> _Staged:
        """Stream the objects into staging packs. Envelopes go to the workers in batches
        while the stream goes on; each is staged once its verdict is known (a statement
        by a revoked key is refused, not stored). At most _IN_FLIGHT batches wait, so
        memory stays flat whatever the bundle's size."""
        staged = _Staged()

        def stage(oid: bytes, kind: str, data: bytes) -> None:
            if not staging or staging[-1].size >= C.PACK_TARGET_BYTES:
                if staging:
                    staging[-1].sync()
                staging.append(self.store.writer())
            staging[-1].add(oid, data)
            staging[-1].kinds[oid] = kind
            result.new_objects += 1

        def settle(batch: dict[bytes, bytes], future: Future) -> None:
            for opened in future.result():  # a damaged envelope addressed to us fails the import
                if opened.refused:
                    result.refused_revoked += 1
                    continue
                if opened.row is None:
                    staged.unreadable.append(opened.oid)
                    result.relay_only += 1
                else:
                    staged.rows.append(opened.row)
                    staged.dedup += opened.dedup
                    result.new_records += 1
                staged.custody_rows.append(opened.custody_row)
                stage(opened.oid, "envelope", batch[opened.oid])

        pending: deque[tuple[dict[bytes, bytes], Future]] = deque()
        batch: dict[bytes, bytes] = {}

        def send() -> None:
            nonlocal batch
            pending.append((batch, workers.open_envelopes(list(batch.items()))))
            batch = {}
            while pending and (pending[0][1].done() or len(pending) > _IN_FLIGHT):
                settle(*pending.popleft())

        # Decrypting and hashing the stream (one thread) overlaps staging it (this one).
        for oid, kind, data in prefetched(reader.objects()):
            if progress:
                progress(len(data))
            if oid in held:
                result.held_objects += 1
                if kind == "envelope":  # delivered again by this bundle: custody says so
                    staged.custody_rows.append(
                        receipt.imported_row(oid, self.index.record_for_envelope(oid)))
            elif kind == "envelope":
                batch[oid] = data
                if len(batch) == _ENVELOPE_BATCH:
                    send()
            else:
                stage(oid, kind, data)
        if batch:
            send()
        while pending:
            settle(*pending.popleft())
        return staged

    def revocation_dates(self) -> dict[str, str]:
        """Fingerprint → revocation date of every revoked pinned peer (few; read once)."""
        return {p.fingerprint: p.revoked for p in self.peers.all() if p.revoked}

    # --- inspect ---------------------------------------------------------------------------
    def inspect(self, path: Path) -> InspectResult:
        with _open_bundle(path) as (f, size):
            reader = BundleReader(f, size, self.keys.box_secret, self._lenient_key)
            m = reader.manifest
            fp = m.sender.fingerprint
            held = self.index.has_objects(o[0] for o in m.objects)
            result = InspectResult(
                sender_name=m.sender.name, sender_fingerprint=fp, sender_status=self.peers.describe(fp),
                signature_ok=True, intact=False, bundle_id=m.bundle_id, created=m.created,
                recipients=[self._recipient_name(r) for r in m.recipients],
                objects=len(m.objects), object_bytes=m.total_object_bytes,
                new_objects=len(m.objects) - len(held),
                envelopes=sum(1 for o in m.objects if o[1] == "envelope"),
                custody_events=len(m.custody), acks=len(m.acks), revocations=len(m.revocations),
                already_imported=self.index.was_received(m.bundle_id))
            try:
                for _ in reader.objects():
                    pass
                result.intact = True
            except ArchiveError as e:
                result.problem = str(e)
        return result

    def _lenient_key(self, fingerprint: str) -> bytes | None:
        """For inspect only: an unknown sender's signature is checked against its own card."""
        peer = self.peers.by_fingerprint(fingerprint)
        return peer.card.sign_key if peer is not None else None

    def _recipient_name(self, fingerprint: str) -> str:
        if fingerprint == self.keys.card.fingerprint:
            return "this archive"
        peer = self.peers.by_fingerprint(fingerprint)
        return peer.name if peer else f"unknown key {fingerprint[:16]}"


_ENVELOPE_BATCH = 32   # envelopes per worker job: coarse enough to keep switches rare
_CUSTODY_BATCH = 512   # custody events per worker job
_IN_FLIGHT = 64        # envelope batches sent and not yet staged (about 64 × 32 × 4 KiB)


@dataclass
class _Staged:
    """What staging found, for the import's transaction."""
    rows: list[RecordRow] = field(default_factory=list)
    dedup: list[tuple[bytes, str]] = field(default_factory=list)
    unreadable: list[bytes] = field(default_factory=list)
    custody_rows: list[tuple[bytes, bytes, bytes, bytes | None]] = field(default_factory=list)


class _open_bundle:
    """Open a bundle file for reading, with its size; errors as one clear line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self):
        try:
            self.f = open(self.path, "rb")
        except FileNotFoundError as e:
            raise UsageError(f"{self.path}: no such file") from e
        except OSError as e:
            raise UsageError(f"{self.path}: {e.strerror}") from e
        return self.f, os.fstat(self.f.fileno()).st_size

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _bundle_names(out: Path, count: int) -> list[Path]:
    if count == 1:
        return [out]
    names = [out.with_name(f"{out.stem}-{i}of{count}{out.suffix}") for i in range(1, count + 1)]
    for name in names:
        if name.exists():
            raise UsageError(f"{name} already exists; nothing was overwritten")
    return names
