"""The SQLite index (archive.db, via sqlite-utils, WAL, synchronous=FULL).

It says where each object is, which envelope holds each record, and which file hashes
are already stored. Nothing readable about content is kept in clear: cached metadata
is sealed with a key derived from index_key (AAD = the record id, so rows cannot be
swapped), and the dedup table is keyed by HMAC(index_key, file SHA-256). The index can
be rebuilt from the packs and the keys; the packs are the truth.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import sqlite_utils

from . import journal
from .errors import FormatError, NotFoundError, UsageError
from .sealedrows import RecordRow
from .store import ClosedPack, Located

DB_FILE = "archive.db"


def _migrate_1(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["packs"].create({"id": str, "size": int}, pk="id")
    db["objects"].create({"id": bytes, "pack": str, "offset": int, "length": int, "kind": str}, pk="id")
    db["objects"].create_index(["pack"])
    db["records"].create({"id": str, "envelope": bytes, "sealed": bytes}, pk="id")
    db["dedup"].create({"mac": bytes, "record": str}, pk="mac")


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Peers, bundles sent and received, custody events (issue 3)."""
    db["peers"].create({"id": str, "sealed": bytes}, pk="id")
    db["revocations"].create({"id": bytes, "sealed": bytes}, pk="id")
    db["settings"].create({"key": str, "sealed": bytes}, pk="key")
    db["received"].create({"bundle": str, "peer": str, "sequence": int, "imported": str}, pk="bundle")
    db["sent"].create({"bundle": str, "peer": str, "sequence": int, "created": str, "acked": int},
                      pk=("bundle", "peer"))
    db["sent_objects"].create({"bundle": str, "object": bytes}, pk=("bundle", "object"))
    db["peer_has"].create({"peer": str, "object": bytes}, pk=("peer", "object"))
    db["custody"].create({"id": bytes, "envelope": bytes, "sealed": bytes}, pk="id")
    db["custody"].create_index(["envelope"])
    db["unreadable"].create({"envelope": bytes}, pk="envelope")
    db["records"].create_index(["envelope"])


def _migrate_3(db: sqlite_utils.Database) -> None:
    """The custody log as a Merkle tree (issue 4): our leaves, every head we were shown,
    proofs of others' events, and the evidence of any fork."""
    db["log_leaves"].create({"idx": int, "event": bytes, "leaf": bytes}, pk="idx")
    db["log_leaves"].create_index(["event"], unique=True)
    db["heads"].create({"id": bytes, "log": str, "size": int, "via": str, "sealed": bytes}, pk="id")
    db["heads"].create_index(["log", "size"])
    db["sent_heads"].create({"peer": str, "size": int}, pk=("peer", "size"))
    db["proofs"].create({"event": bytes, "sealed": bytes}, pk="event")
    db["forks"].create({"id": bytes, "log": str, "sealed": bytes}, pk="id")


def _migrate_4(db: sqlite_utils.Database) -> None:
    # What only the index knows is journaled, to be mirrored into the store (journal.py).
    journal.install(db)


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4]  # index i takes schema version i to i + 1


class ObjectProbe:
    """Whether one object is stored, asked from `add`'s worker threads: a read-only
    connection of its own (the Index's stays in the thread that commits), shared under a
    lock. It sees what was committed; the caller knows what it has sent since."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     check_same_thread=False)
        self._lock = threading.Lock()

    def has(self, object_id: bytes) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM objects WHERE id = ?", [object_id]).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Index:
    def __init__(self, home: Path) -> None:
        self.path = home / DB_FILE
        if not self.path.exists():
            if (home / "packs").is_dir():
                raise NotFoundError(f"the index {self.path} is missing",
                                    hint="rebuild it from the packs: testimony check --rebuild-index")
            raise NotFoundError(f"{home} is not a testimony archive",
                                hint="run `testimony init`, or point --home at your archive")
        try:
            self.db = sqlite_utils.Database(sqlite3.connect(self.path, isolation_level=None))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.migrate()
        except sqlite3.DatabaseError as e:
            raise FormatError(f"the index {self.path} is damaged ({e})",
                              hint="the packs are the truth and are untouched: "
                                   "testimony check --rebuild-index") from e

    @classmethod
    def create(cls, home: Path) -> "Index":
        # SQLite gives its -wal and -shm files the database file's mode: 0600 for all.
        os.close(os.open(home / DB_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return cls(home)

    def close(self) -> None:
        self.db.conn.close()

    @staticmethod
    def move_aside(home: Path, stamp: str) -> Path | None:
        """Rename a damaged archive.db (and its -wal, -shm) out of the way, kept for
        inspection; None if there was none."""
        path = home / DB_FILE
        if not path.exists():
            for suffix in ("-wal", "-shm"):   # a stray journal would be applied to the new db
                (home / f"{DB_FILE}{suffix}").unlink(missing_ok=True)
            return None
        kept = home / f"{DB_FILE}.damaged-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if (home / f"{DB_FILE}{suffix}").exists():
                os.replace(home / f"{DB_FILE}{suffix}", home / f"{DB_FILE}.damaged-{stamp}{suffix}")
        return kept

    def chunk_bytes(self) -> int:
        """Bytes of evidence chunks in the store (how much a full verify reads)."""
        return self.db.execute("SELECT COALESCE(SUM(length), 0) FROM objects WHERE kind = 'chunk'").fetchone()[0]

    def objects_of_kind(self, kind: str) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT id FROM objects WHERE kind = ? ORDER BY pack, offset",
                                              [kind])]

    # --- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        if "meta" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        version = self.schema_version()
        if version > len(MIGRATIONS):
            raise UsageError(f"this archive's index is version {version}, newer than this "
                             f"testimony ({len(MIGRATIONS)})", hint="upgrade testimony")
        for step in range(version, len(MIGRATIONS)):
            with self.db.conn:
                self.db.execute("BEGIN IMMEDIATE")
                MIGRATIONS[step](self.db)
                self.db["meta"].upsert({"key": "schema_version", "value": str(step + 1)}, pk="key")

    # --- reads ------------------------------------------------------------------------------
    def locate(self, object_id: bytes) -> tuple[str, Located] | None:
        # Plain sqlite3 (cached statement): verify and check call this once per record.
        row = self.db.conn.execute("SELECT pack, offset, length FROM objects WHERE id = ?",
                                   [object_id]).fetchone()
        return (row[0], Located(object_id, row[1], row[2])) if row else None

    def has_objects(self, object_ids: Iterable[bytes]) -> set[bytes]:
        ids = list(object_ids)
        found: set[bytes] = set()
        conn = self.db.conn  # the hot path of `add`: plain sqlite3, cached statements
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            found.update(r[0] for r in conn.execute(
                f"SELECT id FROM objects WHERE id IN ({marks})", part))
        return found

    def pack_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM packs")}

    def object_probe(self) -> "ObjectProbe":
        return ObjectProbe(self.path)

    def objects_in(self, pack_id: str) -> list[Located]:
        return [Located(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT id, offset, length FROM objects WHERE pack = ? ORDER BY offset", [pack_id])]

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in ("packs", "objects", "records", "dedup")}

    def records(self) -> Iterator[RecordRow]:
        for r in self.db.execute("SELECT id, envelope, sealed FROM records ORDER BY id"):
            yield RecordRow(r[0], r[1], r[2])

    def record_ids_with_prefix(self, prefix: str) -> list[str]:
        upper = prefix + "g"  # every lowercase-hex string that starts with prefix sorts below
        return [r[0] for r in self.db.execute(
            "SELECT id FROM records WHERE id >= ? AND id < ? LIMIT 2", [prefix, upper])]

    def record(self, record_id: str) -> RecordRow | None:
        r = self.db.execute("SELECT id, envelope, sealed FROM records WHERE id = ?",
                            [record_id]).fetchone()
        return RecordRow(r[0], r[1], r[2]) if r else None

    def record_for_envelope(self, envelope_id: bytes) -> str | None:
        r = self.db.execute("SELECT id FROM records WHERE envelope = ?", [envelope_id]).fetchone()
        return r[0] if r else None

    def dedup_macs(self) -> set[bytes]:
        return {r[0] for r in self.db.execute("SELECT mac FROM dedup")}

    def dedup_record(self, mac: bytes) -> str | None:
        r = self.db.execute("SELECT record FROM dedup WHERE mac = ?", [mac]).fetchone()
        return r[0] if r else None

    def records_without_envelope(self) -> tuple[int, int]:
        """(records whose envelope the objects table lacks, all records): one query."""
        r = self.db.execute("SELECT count(*), sum(envelope NOT IN (SELECT id FROM objects)) "
                            "FROM records").fetchone()
        return r[1] or 0, r[0]

    def envelopes_without_record(self) -> list[bytes]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM objects WHERE kind = 'envelope' AND id NOT IN "
            "(SELECT envelope FROM records) AND id NOT IN (SELECT envelope FROM unreadable)")]

    # --- writes -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        with self.db.conn:
            self.db.execute("BEGIN IMMEDIATE")
            yield

    def _insert(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple],
                *, conflict: str = "IGNORE") -> None:
        """Many rows at once with plain sqlite3 (the hot paths of add and import)."""
        marks = ",".join("?" * len(columns))
        self.db.conn.executemany(
            f"INSERT OR {conflict} INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)

    def insert_pack(self, pack: ClosedPack, *, kinds: dict[bytes, str]) -> None:
        self.db["packs"].insert({"id": pack.pack_id, "size": pack.size}, replace=True)
        self._insert("objects", ("id", "pack", "offset", "length", "kind"),
                     ((e.object_id, pack.pack_id, e.offset, e.length, kinds.get(e.object_id, "unknown"))
                      for e in pack.entries))

    def insert_records(self, records: list[RecordRow], dedup: list[tuple[bytes, str]]) -> None:
        self._insert("records", ("id", "envelope", "sealed"),
                     ((r.record_id, r.envelope_id, r.sealed) for r in records))
        self._insert("dedup", ("mac", "record"), dedup)

    def commit_pack(self, pack: ClosedPack, *, kinds: dict[bytes, str],
                    records: list[RecordRow], dedup: list[tuple[bytes, str]],
                    custody: Iterable[tuple[bytes, bytes, bytes, bytes | None]] = ()) -> None:
        """One transaction: the pack's objects, then the records, hashes and events they hold."""
        with self.transaction():
            self.insert_pack(pack, kinds=kinds)
            self.insert_records(records, dedup)
            self.insert_custody(custody)

    def add_records(self, records: list[RecordRow], dedup: list[tuple[bytes, str]],
                    custody: Iterable[tuple[bytes, bytes, bytes, bytes | None]] = ()) -> None:
        with self.transaction():
            self.insert_records(records, dedup)
            self.insert_custody(custody)

    # --- peers, settings, revocations (sealed values) ------------------------------------------
    def put_sealed(self, table: str, key_column: str, key: Any, sealed: bytes) -> None:
        self.db[table].upsert({key_column: key, "sealed": sealed}, pk=key_column)

    def get_sealed(self, table: str, key_column: str, key: Any) -> bytes | None:
        row = self.db.execute(f"SELECT sealed FROM {table} WHERE {key_column} = ?", [key]).fetchone()
        return row[0] if row else None

    def all_sealed(self, table: str, key_column: str) -> list[tuple[Any, bytes]]:
        return [(r[0], r[1]) for r in self.db.execute(
            f"SELECT {key_column}, sealed FROM {table} ORDER BY {key_column}")]

    # --- sync state ---------------------------------------------------------------------------
    def all_objects(self) -> list[tuple[bytes, str, int]]:
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT id, kind, length FROM objects ORDER BY pack, offset")]

    def objects_held_by(self, peer: str) -> set[bytes]:
        return {r[0] for r in self.db.execute("SELECT object FROM peer_has WHERE peer = ?", [peer])}

    def objects_sent_to(self, peer: str) -> set[bytes]:
        return {r[0] for r in self.db.execute(
            "SELECT object FROM sent_objects JOIN sent USING (bundle) WHERE sent.peer = ?", [peer])}

    def mark_held(self, peer: str, object_ids: Iterable[bytes]) -> None:
        self._insert("peer_has", ("peer", "object"), ((peer, o) for o in object_ids))

    def last_sequence_sent(self, peer: str) -> int:
        row = self.db.execute("SELECT MAX(sequence) FROM sent WHERE peer = ?", [peer]).fetchone()
        return row[0] or 0

    def record_sent(self, bundle: str, *, sequences: dict[str, int], created: str,
                    object_ids: Iterable[bytes]) -> None:
        self.db["sent"].insert_all({"bundle": bundle, "peer": p, "sequence": n, "created": created,
                                    "acked": 0} for p, n in sequences.items())
        self._insert("sent_objects", ("bundle", "object"), ((bundle, o) for o in object_ids))

    def acknowledge(self, bundle: str, peer: str) -> bool:
        """A bundle we sent to `peer` arrived there: it now holds its objects."""
        row = self.db.execute("SELECT acked FROM sent WHERE bundle = ? AND peer = ?",
                              [bundle, peer]).fetchone()
        if row is None or row[0]:
            return False
        self.db.execute("UPDATE sent SET acked = 1 WHERE bundle = ? AND peer = ?", [bundle, peer])
        self.db.execute("INSERT OR IGNORE INTO peer_has (peer, object) "
                        "SELECT ?, object FROM sent_objects WHERE bundle = ?", [peer, bundle])
        return True

    def was_received(self, bundle: str) -> bool:
        return self.db.execute("SELECT 1 FROM received WHERE bundle = ?", [bundle]).fetchone() is not None

    def received_from(self, peer: str) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT bundle, sequence FROM received WHERE peer = ? ORDER BY sequence", [peer])]

    def record_received(self, bundle: str, *, peer: str, sequence: int, imported: str) -> None:
        self.db["received"].insert({"bundle": bundle, "peer": peer, "sequence": sequence,
                                    "imported": imported})

    def insert_custody(self, rows: Iterable[tuple[bytes, bytes, bytes, bytes | None]]) -> None:
        """Store custody events; our own (those with a leaf hash) are appended to our log,
        once each, in the order given."""
        rows = list(rows)
        known = self.custody_known([r[0] for r in rows])
        fresh = [r for r in rows if r[0] not in known]
        self._insert("custody", ("id", "envelope", "sealed"), ((i, e, s) for i, e, s, _ in fresh))
        size = self.log_size()
        leaves = []
        for event_id, _, _, leaf in fresh:
            if leaf is not None:
                leaves.append({"idx": size, "event": event_id, "leaf": leaf})
                size += 1
        self._insert("log_leaves", ("idx", "event", "leaf"),
                     ((x["idx"], x["event"], x["leaf"]) for x in leaves), conflict="ABORT")

    def custody_known(self, ids: list[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM custody WHERE id IN ({','.join('?' * len(part))})", part))
        return found

    def log_size(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM log_leaves").fetchone()[0]

    def log_leaves(self) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT leaf FROM log_leaves ORDER BY idx")]

    def log_positions(self) -> dict[bytes, int]:
        """Event id → its position in our log, for every leaf (one query)."""
        return {r[0]: r[1] for r in self.db.execute("SELECT event, idx FROM log_leaves")}

    def log_index_of(self, event_id: bytes) -> int | None:
        r = self.db.execute("SELECT idx FROM log_leaves WHERE event = ?", [event_id]).fetchone()
        return r[0] if r else None

    def put_head(self, head_id: bytes, *, log: str, size: int, via: str, sealed: bytes) -> None:
        self.db["heads"].insert({"id": head_id, "log": log, "size": size, "via": via,
                                 "sealed": sealed}, ignore=True)

    def heads_of(self, log: str, *, via: str | None = None) -> list[tuple[int, bytes, bytes]]:
        """(size, head id, sealed head) of the heads seen from one log (only those its
        owner handed us directly when `via` is the owner), smallest first."""
        if via is None:
            rows = self.db.execute("SELECT size, id, sealed FROM heads WHERE log = ? ORDER BY size", [log])
        else:
            rows = self.db.execute("SELECT size, id, sealed FROM heads WHERE log = ? AND via = ? "
                                   "ORDER BY size", [log, via])
        return [(r[0], r[1], r[2]) for r in rows]

    def record_head_sent(self, peer: str, size: int) -> None:
        self.db["sent_heads"].insert({"peer": peer, "size": size}, ignore=True)

    def head_sizes_sent(self, peer: str) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT size FROM sent_heads WHERE peer = ? ORDER BY size",
                                              [peer])]

    def put_proofs(self, rows: Iterable[tuple[bytes, bytes]]) -> None:
        """(event id, sealed inclusion proof) for events of other archives' logs."""
        self._insert("proofs", ("event", "sealed"), rows, conflict="REPLACE")

    def get_proof(self, event_id: bytes) -> bytes | None:
        r = self.db.execute("SELECT sealed FROM proofs WHERE event = ?", [event_id]).fetchone()
        return r[0] if r else None

    def put_fork(self, fork_id: bytes, *, log: str, sealed: bytes) -> None:
        self.db["forks"].insert({"id": fork_id, "log": log, "sealed": sealed}, ignore=True)

    def forks(self) -> list[tuple[str, bytes]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT log, sealed FROM forks")]

    def get_head(self, head_id: bytes) -> bytes | None:
        r = self.db.execute("SELECT sealed FROM heads WHERE id = ?", [head_id]).fetchone()
        return r[0] if r else None

    def custody_ids(self) -> set[bytes]:
        return {r[0] for r in self.db.execute("SELECT id FROM custody")}

    def custody_for(self, envelopes: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
        ids = list(envelopes)
        rows: list[tuple[bytes, bytes]] = []
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            rows += [(r[0], r[1]) for r in self.db.execute(
                f"SELECT id, sealed FROM custody WHERE envelope IN ({','.join('?' * len(part))})", part)]
        return rows

    def custody_counts(self) -> dict[bytes, int]:
        """Envelope id → how many custody events we hold about it (one query)."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT envelope, COUNT(*) FROM custody GROUP BY envelope")}

    def journal_last(self) -> int | None:
        """The last journal entry not yet mirrored into the store, if any."""
        return self.db.execute("SELECT MAX(seq) FROM journal").fetchone()[0]

    def drop_journal(self, up_to: int) -> None:
        """Forget entries now mirrored in a journal object (inside the pack's transaction)."""
        self.db.execute("DELETE FROM journal WHERE seq <= ?", [up_to])

    def replay_journal(self, entries: list[tuple[int, str, str, list[Any]]]) -> int:
        """Rebuild: apply mirrored entries in order; new entries continue after them."""
        last = journal.replay(self.db, entries)
        self.db.execute("DELETE FROM journal")   # what replay itself journaled is in the store
        if self.db.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'journal'",
                           [last]).rowcount == 0:
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('journal', ?)", [last])
        return last

    def mark_unreadable(self, envelopes: Iterable[bytes]) -> None:
        self._insert("unreadable", ("envelope",), ((e,) for e in envelopes))

    def unreadable_count(self) -> int:
        return self.db["unreadable"].count
