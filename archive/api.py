"""`Archive`: the facade the CLI and the tests use. Every CLI command is one call here."""

from __future__ import annotations

import functools
import os
import threading
import unicodedata
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import constants as C
from . import crypto, keys as keyfiles
from .chunks import decrypt_file_chunks
from .encoding import format_time
from .errors import (ArchiveError, disk_error, IntegrityError, KeyAccessError, NotFoundError, TrustError,
                     UsageError)
from .fsutil import make_private_dir, safe_file_name, write_atomic
from .index import Index
from .sealedrows import MetaSealer, RecordRow
from .filelist import collect_files, display_name
from .ingest import AddSummary, Ingest, encrypt_attachment
from .recordwriter import RecordWriter
from .keys import IdentityCard, SecretKeys
from .locking import ArchiveLock
from .passphrase import check_passphrase
from . import disclosure, journal, report
from .custody import chain_order, sign_event
from .custody import check_event
from .custodylog import OwnLog, check_head, check_inclusion
from .sealing import recorded_event
from .peerbook import PeerBook
from .receiving import refused_as_revoked, sealed_meta
from .rehashing import FileChecks
from .peers import Peer, Revocation
from .records import Draft, OpenedRecord, create_record, index_meta, open_envelope, slot_hint
from .store import ClosedPack, Store
from .sync import ExportResult, ImportResult, InspectResult, Sync, parse_size
from .results import (CheckReport, CustodyChain, CustodyStep, RebuildReport, RecordCheck,
                      RecordSummary, RecordView, VerifyReport)


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "testimony"


def utc_now() -> str:
    return format_time(datetime.now(timezone.utc))


def passphrase_bytes(passphrase: str) -> bytes:
    # NFC: the same passphrase typed on two keyboards may be composed differently.
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _scan(store: Store, pack_id: str, read_data: bool) -> tuple[list, str | None]:
    """A pack's entries, or the problem that stopped its scan (for `check`)."""
    try:
        return store.scan_pack(pack_id, read_data=read_data), None
    except ArchiveError as e:
        return [], str(e)


def _file_verdict(check: RecordCheck, name: str, problem: str | None) -> None:
    if problem is None:
        check.attachments_checked += 1
    else:
        check.problems.append(f"attachment {name!r}: {problem}")


UNKNOWN_KEY = "a key not pinned here"
_MAGIC_BYTES = max(len(C.ENVELOPE_MAGIC), len(C.JOURNAL_MAGIC))


def _kind(head: bytes) -> str:
    """An object's kind from its first bytes (chunks have no magic: AES-GCM output)."""
    if head.startswith(C.ENVELOPE_MAGIC):
        return "envelope"
    if head.startswith(C.JOURNAL_MAGIC):
        return "journal"
    return "chunk"


class Archive:
    """An open archive: HOME (packs + index) and a keys folder, locked to this process."""

    peers: PeerBook
    sync: Sync

    def __init__(self, home: Path, keys_dir: Path, *, now: Callable[[], str] = utc_now) -> None:
        self.home, self.keys_dir, self._now = Path(home), Path(keys_dir), now
        if not (self.home / "archive.db").exists() and not (self.home / "packs").is_dir():
            raise NotFoundError(f"{self.home} is not a testimony archive",
                                hint="run `testimony init`, or point --home at your archive")
        self._lock = ArchiveLock(self.home)
        try:
            self.index = Index(self.home)
            self.store = Store(self.home)
            self._recover()
        except BaseException:
            self._lock.release()
            raise
        self._keys: SecretKeys | None = None
        self._sealer: MetaSealer | None = None
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    def create(cls, home: Path, keys_dir: Path, *, name: str, passphrase: str,
               kdf: str = C.DEFAULT_KDF, now: Callable[[], str] = utc_now) -> "Archive":
        """Make a new identity and an empty archive; refuse to touch existing ones."""
        home, keys_dir = Path(home), Path(keys_dir)
        if kdf not in C.KDF_PROFILES:
            raise UsageError(f"unknown KDF profile {kdf!r}")
        if not name.strip():
            raise UsageError("the identity needs a name", hint='use --name "Your team"')
        if (home / "archive.db").exists():
            raise UsageError(f"{home} already holds an archive; nothing was changed")
        if home.exists() and (not home.is_dir() or any(p != keys_dir for p in home.iterdir())):
            raise UsageError(f"{home} exists and is not empty; choose a new folder for the archive")
        if keyfiles.keys_exist(keys_dir):
            raise UsageError(f"{keys_dir} already holds keys; nothing was overwritten")
        check_passphrase(passphrase)
        created = now()
        secrets_ = keyfiles.create_identity(name.strip(), created=created)
        revocation = keyfiles.revocation_certificate(secrets_.sign_seed, secrets_.card, created=created)
        make_private_dir(home)
        keyfiles.write_identity(keys_dir, secrets_, passphrase_bytes(passphrase), kdf=kdf,
                                revocation=revocation)
        Store(home).create()
        Index.create(home).close()
        archive = cls(home, keys_dir, now=now)
        archive._set_keys(secrets_)
        return archive

    @classmethod
    def rebuild_index(cls, home: Path, keys_dir: Path, *, passphrase: str,
                      now: Callable[[], str] = utc_now) -> tuple["Archive", RebuildReport]:
        """A new archive.db from the packs and the keys: objects and records from the
        packs, everything else replayed from the journal objects (format.md §26). The old
        index, if any, is kept beside it as archive.db.damaged-TIME. Returns the archive,
        open and unlocked, and what was rebuilt."""
        home, keys_dir = Path(home), Path(keys_dir)
        if not (home / "packs").is_dir():
            raise NotFoundError(f"{home} is not a testimony archive (it has no packs/ folder)",
                                hint="point --home at the archive folder")
        # The passphrase first: a wrong one must change nothing.
        secrets_ = keyfiles.load_secret_keys(keys_dir, passphrase_bytes(passphrase))
        report = RebuildReport()
        lock = ArchiveLock(home)   # no other testimony process may use the old index meanwhile
        try:
            stamp = now().replace(":", "")
            report.moved_aside = Index.move_aside(home, stamp)
            # An import's list of staged packs means "delete these unless the index has
            # them"; a new index has none of them, committed or not: adopt them instead.
            staged = Store(home).journal_path
            if staged.exists():
                os.replace(staged, staged.with_name(f"{staged.name}.kept-{stamp}"))
            Index.create(home).close()
        finally:
            lock.release()
        archive = cls(home, keys_dir, now=now)   # recovery indexes every pack, hashing each object
        try:
            archive._set_keys(secrets_)
            report.unreadable_packs = [p for p in archive.store.pack_ids()
                                       if p not in archive.index.pack_ids()]
            entries = []
            for object_id in archive.index.objects_of_kind("journal"):
                entries += journal.open_object(secrets_.index_key, archive._read_object(object_id))
                report.journal_objects += 1
            with archive.index.transaction():
                archive.index.replay_journal(entries)
            report.journal_entries = len({e[0] for e in entries})
            archive._index_unread_envelopes()
            counts = archive.index.counts()
            report.packs, report.objects, report.records = counts["packs"], counts["objects"], counts["records"]
        except BaseException:
            archive.close()
            raise
        return archive, report

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._keys is not None:
                self._flush_journal_if_possible()
        finally:
            self.index.close()
            self._lock.release()

    def flush_journal(self) -> int:
        """Mirror what only the index knows into the store (journal.py)."""
        return journal.flush(self.index, self.store, self.keys.index_key)

    def _flush_journal_if_possible(self) -> None:
        """A full or read-only disk only postpones the mirror: the entries stay in the
        index, and the next command that can write flushes them."""
        try:
            self.flush_journal()
        except Exception as e:
            if disk_error(e) is None:
                raise

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def unlock(self, passphrase: str) -> None:
        self._set_keys(keyfiles.load_secret_keys(self.keys_dir, passphrase_bytes(passphrase)))
        self._index_unread_envelopes()
        self._flush_journal_if_possible()   # entries a crashed command committed, not mirrored

    def _set_keys(self, secrets_: SecretKeys) -> None:
        self._keys, self._sealer = secrets_, MetaSealer(secrets_.index_key)
        self.peers = PeerBook(self.index, self._sealer, secrets_.card)
        self.sync = Sync(index=self.index, store=self.store, keys=secrets_, sealer=self._sealer,
                         peers=self.peers, now=self._now)

    @property
    def keys(self) -> SecretKeys:
        if self._keys is None:
            raise KeyAccessError("the archive is locked", hint="give the passphrase")
        return self._keys

    @property
    def sealer(self) -> MetaSealer:
        self.keys  # raises when locked
        assert self._sealer is not None
        return self._sealer

    def _recover(self) -> None:
        """After a crash: drop unfinished packs, index packs that were renamed but not indexed."""
        self.store.clear_tmp()
        known = self.index.pack_ids()
        self.store.roll_back_staged(known)
        for pack_id in self.store.pack_ids():
            if pack_id in known:
                continue
            try:
                entries = self.store.scan_pack(pack_id, read_data=True)
            except ArchiveError:
                continue  # reported by `check`; never trusted
            # Its objects were just hashed by scan_pack: their first bytes are enough here.
            kinds = {e.object_id: _kind(self.store.head(pack_id, e, _MAGIC_BYTES)) for e in entries}
            size = self.store.pack_path(pack_id).stat().st_size
            self.index.commit_pack(ClosedPack(pack_id, size, entries), kinds=kinds, records=[], dedup=[])

    def _index_unread_envelopes(self) -> None:
        """Envelopes in the store with no record row (a crash before the commit)."""
        rows, dedup, unreadable, custody = [], [], [], []
        for envelope_id in self.index.envelopes_without_record():
            try:
                opened = open_envelope(self._read_object(envelope_id), self.keys.box_secret)
            except TrustError:
                unreadable.append(envelope_id)  # addressed to others: kept to relay on
                continue
            except ArchiveError:
                continue  # damaged: `verify` and `check` report it
            rows.append(RecordRow(opened.record_id, envelope_id, self._seal_meta(opened)))
            dedup += [(self.sealer.dedup_mac(bytes.fromhex(a["sha256"])), opened.record_id)
                      for a in opened.attachments]
            if opened.author_fingerprint == self.keys.card.fingerprint:
                # Our record whose commit was cut off lost its `recorded` event with it: sign it
                # again (deterministic: the same bytes and id as the one that was lost).
                event = sign_event(self.keys, event="recorded", envelope=envelope_id,
                                   record=opened.record_id, peer=None, bundle=None,
                                   time=opened.statement["created"])
                custody.append(self.sealer.custody_row(event.event_id, event.envelope, event.raw,
                                                       leaf=event.leaf_hash))
        if rows or unreadable:
            with self.index.transaction():
                self.index.insert_records(rows, dedup)
                self.index.insert_custody(custody)
                self.index.mark_unreadable(unreadable)

    def _seal_meta(self, opened: OpenedRecord) -> bytes:
        return sealed_meta(self.sealer, opened)

    # --- identity -------------------------------------------------------------------------------
    def identity(self) -> IdentityCard:
        return self.keys.card

    def export_identity(self, out: Path) -> IdentityCard:
        card = self.identity()
        try:
            write_atomic(Path(out), card.to_bytes() + b"\n", mode=0o644, exclusive=True)
        except FileExistsError as e:
            raise UsageError(f"{out} already exists; nothing was overwritten") from e
        except OSError as e:
            raise UsageError(f"cannot write {out}: {e.strerror}") from e
        return card

    # --- writing records ----------------------------------------------------------------------
    def record(self, *, fields: dict[str, Any], attachments: list[Path] = (),
               supersedes: list[str] = (), to: list[str] = ()) -> str:
        """Sign and store one testimony, readable by its author and the peers `to` (or the
        default recipients); return its record id."""
        keys = self.keys
        recipients = [p.card.box_key for p in self.peers.recipients(list(to))]
        fields = {k: v for k, v in fields.items() if v not in (None, "", [])}
        if not fields.get("body") and not fields.get("title") and not attachments:
            raise UsageError("the testimony is empty: no title, text or attachment")
        for path in attachments:
            if not Path(path).is_file():
                raise NotFoundError(f"{display_name(str(path))}: no such file")
        supersedes = [self.resolve(s) for s in supersedes]
        writer = RecordWriter(self.store, self.index)
        keyer = crypto.ChunkKeyer(keys.convergence_secret)
        try:
            values, chunks, macs = [], {}, []
            for path in attachments:
                value, refs, sha = encrypt_attachment(Path(path), keyer, writer, name=Path(path).name)
                values.append(value)
                chunks[value["sha256"]] = refs
                macs.append(self.sealer.dedup_mac(sha))
            draft = Draft("testimony", fields, tuple(values), tuple(supersedes))
            sealed = create_record(keys, draft, chunks=chunks, recipients=recipients, created=self._now())
            meta = index_meta(sealed.statement, fields, values, slot=sealed.slot)
            writer.put_record(sealed, self.sealer.seal(sealed.record_id, meta), macs,
                              recorded_event(keys, self.sealer, sealed))
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return sealed.record_id

    def add(self, paths: list[Path], *, tags: list[str] = (), to: list[str] = (),
            progress: Callable[[int], None] | None = None,
            on_files: Callable[[int, int], None] | None = None) -> AddSummary:
        """Ingest evidence files and folders, one evidence record per new file, readable
        by the author and the peers `to` (or the default recipients)."""
        recipients = [p.card.box_key for p in self.peers.recipients(list(to))]
        tasks = collect_files(paths)
        if on_files:
            on_files(len(tasks), sum(t.size for t in tasks))
        writer = RecordWriter(self.store, self.index)
        ingest = Ingest(self.keys, self.sealer, writer, self.index, tags=list(tags), now=self._now,
                        recipients=recipients, progress=progress)
        return ingest.run(tasks)

    # --- reading ----------------------------------------------------------------------------
    def resolve(self, prefix: str) -> str:
        """A full record id from a unique prefix of at least 8 hex digits."""
        text = prefix.strip().lower()
        if len(text) < C.MIN_ID_PREFIX or any(c not in "0123456789abcdef" for c in text):
            raise UsageError(f"{prefix!r} is not a record id (give at least {C.MIN_ID_PREFIX} hex digits)")
        matches = self.index.record_ids_with_prefix(text)
        if not matches:
            raise NotFoundError(f"no record id starts with {text}", hint="`testimony list` shows them")
        if len(matches) > 1:
            raise UsageError(f"{text} matches several records", hint="give more digits")
        return matches[0]

    def list_records(self, *, tag: str | None = None) -> list[RecordSummary]:
        result = []
        signers: dict[str, str] = {}  # a few authors sign many records: look each up once
        for row in self.index.records():
            meta = self.sealer.open(row.record_id, row.sealed)
            fields = meta["fields"]
            if tag is not None and tag not in fields.get("tags", []):
                continue
            result.append(RecordSummary(row.record_id, meta["kind"], meta["created"],
                                        fields.get("title", ""), fields.get("tags", []),
                                        meta["author"], meta["author_fingerprint"],
                                        len(meta["attachments"]),
                                        signers.get(meta["author_fingerprint"]) or signers.setdefault(
                                            meta["author_fingerprint"],
                                            self.peers.describe(meta["author_fingerprint"]))))
        result.sort(key=lambda r: (r.created, r.record_id))
        return result

    def search(self, text: str) -> list[RecordSummary]:
        needle = text.casefold()
        if not needle.strip():
            raise UsageError("give some text to search for")
        hits = set()
        for row in self.index.records():
            meta = self.sealer.open(row.record_id, row.sealed)
            f = meta["fields"]
            haystack = [f.get("title", ""), f.get("body", ""), f.get("location", ""),
                        f.get("language", ""), *f.get("tags", []),
                        f.get("witness", {}).get("pseudonym", ""),
                        *(a["name"] for a in meta["attachments"])]
            if any(needle in h.casefold() for h in haystack):
                hits.add(row.record_id)
        return [r for r in self.list_records() if r.record_id in hits]

    def _read_object(self, object_id: bytes) -> bytes:
        where = self.index.locate(object_id)
        if where is None:
            raise IntegrityError(f"object {object_id.hex()[:16]} is missing from the index")
        return self.store.read(where[0], where[1])

    def _open(self, record_id: str) -> OpenedRecord:
        row = self.index.record(record_id)
        if row is None:
            raise NotFoundError(f"no record {record_id}")
        opened = open_envelope(self._read_object(row.envelope_id), self.keys.box_secret)
        if opened.record_id != record_id:
            raise IntegrityError(f"the envelope indexed as record {record_id[:16]} holds "
                                 f"record {opened.record_id[:16]}")
        return opened

    def _signer(self, fingerprint: str) -> str:
        return self.peers.describe(fingerprint)

    def show(self, prefix: str) -> RecordView:
        opened = self._open(self.resolve(prefix))
        return RecordView(opened.record_id, opened.statement, opened.fields, opened.attachments,
                          opened.author_fingerprint, self._signer(opened.author_fingerprint))

    def extract(self, prefix: str, out: Path) -> list[Path]:
        """Decrypt a record's attachments into `out`, each only once its SHA-256 matches."""
        opened = self._open(self.resolve(prefix))
        out = Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create {out}: {e.strerror}") from e
        written = []
        for attachment in opened.attachments:
            target = _free_name(out, safe_file_name(attachment["name"]))
            refs = opened.chunks[attachment["sha256"]]
            tmp = out / f".{target.name}.partial"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as f:
                    for piece in decrypt_file_chunks(refs, self._read_object, size=attachment["size"],
                                                     sha256_hex=attachment["sha256"]):
                        f.write(piece)
                    f.flush()
                    os.fsync(f.fileno())
                os.link(tmp, target)  # never replaces an existing file
            except OSError as e:
                raise UsageError(f"cannot write into {out}: {e.strerror}") from e
            finally:
                tmp.unlink(missing_ok=True)
            written.append(target)
        return written

    # --- checking -------------------------------------------------------------------------------
    def verify(self, prefix: str | None = None,
               progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check every signature, disclosure and file hash we can; a report, never a raise."""
        rows = [self.index.record(self.resolve(prefix))] if prefix else self.index.records()
        report = VerifyReport()
        revoked = self.sync.revocation_dates()
        evidence = self.index.chunk_bytes() if not prefix else 0
        with FileChecks(self.home, evidence_bytes=evidence,
                        records=1 if prefix else self.index.counts()["records"],
                        box_secret=self.keys.box_secret) as files:
            envelopes = ((row, envelope, slot_hint(meta)) for row, envelope, meta in self._envelopes(rows))
            for row, opened in files.opened(envelopes):
                report.records.append(self._verify_record(row, opened, revoked, files))
                if progress:
                    progress(1)
            files.finish()
        return report

    def _envelopes(self, rows: Iterable[RecordRow]
                   ) -> Iterator[tuple[RecordRow, bytes | str, dict[str, Any] | ArchiveError]]:
        """Each record's envelope bytes (id checked), or why they could not be read; and
        its sealed metadata opened (which holds open_envelope's slot hint), or why not."""
        with self.store.reading() as read:
            for row in rows:
                where = self.index.locate(row.envelope_id)
                try:
                    if where is None:
                        raise IntegrityError(f"object {row.envelope_id.hex()[:16]} is missing from the index")
                    envelope: bytes | str = read(*where)
                except IntegrityError as e:
                    envelope = str(e)
                try:
                    meta = self.sealer.open(row.record_id, row.sealed)
                except ArchiveError as e:
                    meta = e
                yield row, envelope, meta

    def _verify_record(self, row: RecordRow, opened: OpenedRecord | str, revoked: dict[str, str],
                       files: FileChecks) -> RecordCheck:
        """Signatures were checked where `opened` was (FileChecks.opened); custody here;
        each file's hash by `files` (its chunks' places looked up here: the index stays in
        this thread)."""
        check = RecordCheck(row.record_id)
        if isinstance(opened, str):
            check.problems.append(opened)
            return check
        check.signer = self._signer(opened.author_fingerprint)
        if refused_as_revoked(opened, revoked):
            check.problems.append("signed by a revoked key after its revocation")
        try:
            events = self.sync.events_for([row.envelope_id])
            check.custody_events = len(events)
            if not any(e.event == "recorded" for e in events) and opened.author_fingerprint == self.keys.card.fingerprint:
                check.problems.append("its `recorded` custody event is missing")
        except ArchiveError as e:
            check.problems.append(f"custody: {e}")
        for attachment in opened.attachments:
            refs = opened.chunks[attachment["sha256"]]
            places = {bytes.fromhex(r["id"]): self.index.locate(bytes.fromhex(r["id"])) for r in refs}
            files.add((refs, places, attachment["size"], attachment["sha256"]),
                      functools.partial(_file_verdict, check, attachment["name"]))
        return check

    def check(self, *, read_data: bool = False) -> CheckReport:
        """Store integrity: packs against the index; with read_data, every object's hash."""
        report = CheckReport(read_data=read_data)
        indexed = self.index.pack_ids()
        on_disk = set(self.store.pack_ids())
        report.packs = len(on_disk)
        for pack_id in sorted(indexed - on_disk):
            report.problems.append(f"pack {pack_id[:16]} is in the index but missing from the store "
                                   f"({len(self.index.objects_in(pack_id))} objects lost)")
        # Packs are re-hashed on two threads (hashing releases the GIL). With read_data this
        # thread opens every record meanwhile, which does not share well between threads:
        # so one pack at a time until the records are done, then two — three busy threads
        # on two cores left this one, the longest task, with two thirds of a core
        # (benchmarks/README.md: 0.705 -> 0.64 s median, interleaved).
        lanes = threading.Semaphore(1 if read_data else 2)

        def scan(pack_id: str) -> tuple[list, str | None]:
            with lanes:
                return _scan(self.store, pack_id, read_data)

        with ThreadPoolExecutor(2, thread_name_prefix="testimony-check") as pool:
            scans = pool.map(scan, sorted(on_disk))
            record_problems = self._check_chunks_present() if read_data else []
            if read_data:
                lanes.release()
            for pack_id, (entries, error) in zip(sorted(on_disk), scans):
                if error is not None:
                    report.problems.append(error)
                    continue
                report.objects += len(entries)
                if pack_id not in indexed:
                    report.problems.append(f"pack {pack_id[:16]} is not in the index")
                    continue
                if {(e.object_id, e.offset, e.length) for e in entries} != {
                        (e.object_id, e.offset, e.length) for e in self.index.objects_in(pack_id)}:
                    report.problems.append(f"pack {pack_id[:16]} does not hold what the index says")
        missing, report.records = self.index.records_without_envelope()
        if missing:
            report.problems.append(f"{missing} of {report.records} records have no envelope in the store")
        report.problems += record_problems
        return report

    def _check_chunks_present(self) -> list[str]:
        """Every record opens (envelope and sealed metadata) and names only stored chunks;
        envelopes are opened by verify's workers when there are many (FileChecks.opened),
        the chunks of 64 records looked up in one query."""
        problems: list[str] = []
        named: list[tuple[str, set[bytes]]] = []
        metas: deque[dict[str, Any] | ArchiveError] = deque()   # opener.opened keeps the order

        def envelopes() -> Iterator[tuple[RecordRow, bytes | str, int | None]]:
            for row, envelope, meta in self._envelopes(self.index.records()):
                metas.append(meta)
                yield row, envelope, slot_hint(meta)

        def look_up() -> None:
            present = self.index.has_objects(set().union(*(refs for _, refs in named)))
            for record_id, refs in named:
                if absent := len(refs - present):
                    problems.append(f"record {record_id[:16]}: {absent} of {len(refs)} "
                                    "evidence chunks are missing")
            named.clear()

        with FileChecks(self.home, evidence_bytes=0, records=self.index.counts()["records"],
                        box_secret=self.keys.box_secret) as opener:
            for row, opened in opener.opened(envelopes()):
                meta = metas.popleft()   # what list/show/search read opens too
                if isinstance(opened, str) or isinstance(meta, ArchiveError):
                    problems.append(f"record {row.record_id[:16]}: "
                                    f"{opened if isinstance(opened, str) else meta}")
                    continue
                named.append((row.record_id, {bytes.fromhex(r["id"]) for rs in opened.chunks.values() for r in rs}))
                if len(named) == 64:
                    look_up()
        look_up()
        return problems

    # --- peers, bundles, custody -----------------------------------------------------------

    def add_peer(self, card_path: Path, *, name: str, role: str, fingerprint: str) -> Peer:
        try:
            data = Path(card_path).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {card_path}: {e.strerror}") from e
        card = keyfiles.parse_card(data)
        return self.peers.add(card, name=name, role=role, typed_fingerprint=fingerprint, now=self._now())

    def read_card(self, card_path: Path) -> IdentityCard:
        try:
            return keyfiles.parse_card(Path(card_path).read_bytes())
        except OSError as e:
            raise UsageError(f"cannot read {card_path}: {e.strerror}") from e

    def list_peers(self) -> list[Peer]:
        return self.peers.all()

    def revoke_peer(self, name: str) -> Peer:
        return self.peers.revoke(name, self.keys, now=self._now())

    def import_revocation(self, path: Path) -> Revocation:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from e
        return self.peers.import_certificate(data, now=self._now())

    def set_default_recipients(self, names: list[str]) -> list[str]:
        return self.peers.set_defaults(names)

    def default_recipients(self) -> list[str]:
        return self.peers.defaults()

    def export_bundle(self, to: list[str], out: Path, *, mode: str = "unacked",
                      max_size: str | None = None,
                      progress: Callable[[int], None] | None = None) -> ExportResult:
        if not to:
            raise UsageError("name the peers to send to with --to")
        return self.sync.export(self.peers.recipients(list(to)), Path(out), mode=mode,
                                max_size=parse_size(max_size) if max_size else None,
                                progress=progress)

    def import_bundle(self, path: Path, *,
                      progress: Callable[[int], None] | None = None) -> ImportResult:
        return self.sync.import_bundle(Path(path), progress=progress)

    def inspect_bundle(self, path: Path) -> InspectResult:
        return self.sync.inspect(Path(path))

    def disclose(self, prefix: str, out: Path, *, reveal: list[str] = ()) -> tuple[str, list[str]]:
        """Write a disclosure package for a court; return (record id, files written)."""
        record_id = self.resolve(prefix)
        opened = self._open(record_id)
        author = self._author_card(opened.author_fingerprint)
        revealed = disclosure.choose(opened, list(reveal))
        disclosure.check_out(Path(out))  # before the `disclosed` event is signed and logged
        envelope = self.index.record(record_id).envelope_id
        event = sign_event(self.keys, event="disclosed", envelope=envelope, record=record_id,
                           peer=None, bundle=None, time=self._now())
        with self.index.transaction():
            self.index.insert_custody([self.sync.custody_row(event)])
            head = OwnLog(self.index, self.keys, self.sealer, self._now).head()
        items, heads = self.sync._custody_with_proofs(self.sync.events_for([envelope]), head)

        def read_file(value: dict[str, Any]):
            return decrypt_file_chunks(opened.chunks[value["sha256"]], self._read_object,
                                       size=value["size"], sha256_hex=value["sha256"])

        files = disclosure.write_package(Path(out), opened=opened, author=author, revealed=revealed,
                                         custody={"events": items, "heads": heads},
                                         created=self._now(), read_file=read_file)
        return record_id, files

    def verify_report(self, prefix: str, out: Path) -> VerifyReport:
        """Verify one record and write the self-contained HTML page about it."""
        result = self.verify(prefix)
        check = result.records[0]
        view = self.show(prefix) if check.ok else None
        try:
            steps = [s.to_json() for s in self.custody(prefix).steps]
        except ArchiveError as e:  # a damaged record still gets its NOT VERIFIED page
            if check.ok:
                check.problems.append(f"custody: {e}")
            steps = []
        page = report.render(
            record_id=check.record_id, ok=check.ok, problems=check.problems,
            kind=view.statement["kind"] if view else "?", title=view.fields.get("title", "") if view else "",
            author=view.statement["author"]["name"] if view else "?",
            fingerprint=view.author_fingerprint if view else "?", signer=check.signer,
            created=view.statement["created"] if view else "?",
            files=view.attachments if view else [], custody=steps,
            generated=self._now())
        try:
            write_atomic(Path(out), page.encode("utf-8"), mode=0o600, exclusive=True)
        except FileExistsError as e:
            raise UsageError(f"{out} already exists; nothing was overwritten") from e
        except OSError as e:
            raise UsageError(f"cannot write {out}: {e.strerror}") from e
        return result

    def _author_card(self, fingerprint: str) -> IdentityCard:
        if fingerprint == self.keys.card.fingerprint:
            return self.keys.card
        peer = self.peers.by_fingerprint(fingerprint)
        if peer is None:
            raise TrustError("the author's key is not pinned here, so its identity card is unknown",
                             hint="pin the author with `testimony peers add CARD` first")
        return peer.card

    def custody(self, prefix: str) -> CustodyChain:
        """A record's custody chain, each event's signature and log inclusion checked."""
        record_id = self.resolve(prefix)
        row = self.index.record(record_id)
        log = OwnLog(self.index, self.keys, self.sealer, self._now)
        with self.index.transaction():  # may sign and keep a new head
            head = log.head()
        items, heads = self.sync._custody_with_proofs(self.sync.events_for([row.envelope_id]), head)
        by_id = {h.head_id: h for h in map(check_head, heads)} | {h.head_id: h for h in log.heads()}
        steps = []
        for item in items:
            event = check_event(item["event"])
            if event.actor == self.keys.card.fingerprint:  # our oldest head holding it
                item = {**item, "inclusion": log.earliest_inclusion(event.event_id) or item["inclusion"]}
            step = CustodyStep(event, self.peers.describe(event.actor, unknown=UNKNOWN_KEY),
                               self.peers.describe(event.peer, unknown=UNKNOWN_KEY) if event.peer else "")
            if item["inclusion"] is not None:
                proven = check_inclusion(event, item["inclusion"], by_id)  # raises if it lies
                step.log_index, step.head_size, step.head_time = (item["inclusion"]["index"],
                                                                  proven.size, proven.time)
            steps.append(step)
        order = {s.event.event_id: i for i, s in enumerate(steps)}
        steps = [steps[order[e.event_id]] for e in chain_order([s.event for s in steps])]
        chain = CustodyChain(record_id, steps)
        author = self._open(record_id).author_fingerprint
        peer = self.peers.by_fingerprint(author)
        if peer is not None and peer.revoked:
            chain.revoked = peer.revoked
            # Another archive's signed log head shows the record before the revocation.
            witnesses = [s for s in steps if s.proven and s.event.actor != author
                         and s.head_time is not None and s.head_time < peer.revoked]
            if witnesses:
                first = min(witnesses, key=lambda s: s.head_time)
                chain.older_than_revocation = (f"{first.actor} logged it under a head signed "
                                               f"{first.head_time}")
        return chain


def _free_name(folder: Path, name: str) -> Path:
    candidate, stem, suffix, n = folder / name, Path(name).stem, Path(name).suffix, 1
    while os.path.lexists(candidate) or os.path.lexists(folder / f".{candidate.name}.partial"):
        candidate = folder / f"{stem} ({n}){suffix}"
        n += 1
    return candidate
