"""The index journal: what only the index knows, mirrored into the store.

Records, objects and dedup rows can be derived again from the packs and the keys. Peers,
custody events and our log's order, tree heads and proofs, bundles sent and received and
acknowledgements cannot: they exist only as index rows. So every change to those tables
is noted by SQLite triggers in a `journal` table, in the same transaction as the change,
and at the end of each command (and right after the next unlock, after a crash) the
pending entries are sealed into journal objects written to a pack.
`check --rebuild-index` replays them, in order, into a fresh index (format.md §26).

A trigger notes only which row changed (its rowid; for a delete, its primary key): the
row itself is read when the entry is mirrored, so a 10,000-record import does not copy
its custody rows twice inside SQLite. Entries are idempotent row images (`put` = insert
or replace the whole row as it is when mirrored, `del` = delete by primary key), so an
entry replayed twice — a flush cut off before its commit writes it again — changes
nothing, and replaying them in sequence order gives every row its last state.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Iterable, Iterator

from . import constants as C
from . import crypto
from .errors import FormatError

# Tables whose rows cannot be derived from the packs and the keys (order = table number).
MIRRORED = ("peers", "revocations", "settings", "received", "sent", "sent_objects", "peer_has",
            "custody", "log_leaves", "heads", "sent_heads", "proofs", "forks")
_PART_BYTES = 4 << 20   # entry bytes per journal object, well under an object's limit
_ENTRY = struct.Struct(">QBBB")          # seq, table number, op (0 put, 1 del), columns
_PUT, _DEL = 0, 1
_NULL, _INT, _TEXT, _BLOB = 0, 1, 2, 3
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")


def install(db: Any) -> None:
    """The journal table and a trigger per change of every mirrored table; rows already
    there (an index made before the journal) are noted once."""
    db.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, "
               "op TEXT NOT NULL, ref)")
    for table in MIRRORED:
        keys = primary_key(db, table)
        key_image = "json_array(" + ", ".join(
            f"hex(OLD.{name})" if blob else f"OLD.{name}" for name, blob in keys) + ")"
        for event, op, ref in (("INSERT", "put", "NEW.rowid"), ("UPDATE", "put", "NEW.rowid"),
                               ("DELETE", "del", key_image)):
            db.execute(f"CREATE TRIGGER journal_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN INSERT INTO journal (tbl, op, ref) VALUES ('{table}', '{op}', {ref}); END")
        db.execute(f"INSERT INTO journal (tbl, op, ref) SELECT '{table}', 'put', rowid FROM {table}")


def columns(db: Any, table: str) -> list[tuple[str, bool]]:
    """(name, is a blob) of each column, in order."""
    return [(r[1], r[2].upper() == "BLOB") for r in db.execute(f"PRAGMA table_info({table})")]


def primary_key(db: Any, table: str) -> list[tuple[str, bool]]:
    rows = sorted((r[5], r[1], r[2].upper() == "BLOB") for r in db.execute(f"PRAGMA table_info({table})")
                  if r[5])
    return [(name, blob) for _, name, blob in rows]


# --- mirroring ------------------------------------------------------------------------------

def pending(db: Any, up_to: int) -> Iterator[bytes]:
    """The encoded entries up to seq `up_to`: each mirrored table's changed rows as they
    are now, then the deletions (replay sorts them all by seq)."""
    for number, table in enumerate(MIRRORED):
        for row in db.execute(f"SELECT j.seq, t.* FROM journal j JOIN {table} t ON t.rowid = j.ref "
                              f"WHERE j.tbl = ? AND j.op = 'put' AND j.seq <= ?", [table, up_to]):
            yield _encode(row[0], number, _PUT, row[1:])
    keys_of = {table: primary_key(db, table) for table in MIRRORED}
    for seq, table, ref in db.execute("SELECT seq, tbl, ref FROM journal WHERE op = 'del' AND seq <= ?",
                                      [up_to]):
        keys = keys_of[table]
        values = [bytes.fromhex(v) if blob and v is not None else v
                  for (_, blob), v in zip(keys, json.loads(ref))]
        yield _encode(seq, MIRRORED.index(table), _DEL, values)


def _encode(seq: int, table: int, op: int, values: Iterable[Any]) -> bytes:
    values = list(values)
    out = [_ENTRY.pack(seq, table, op, len(values))]
    for v in values:
        if v is None:
            out.append(b"\x00")
        elif type(v) is int:
            out.append(b"\x01" + _I64.pack(v))
        elif type(v) is str:
            data = v.encode("utf-8")
            out.append(b"\x02" + _U32.pack(len(data)) + data)
        else:
            out.append(b"\x03" + _U32.pack(len(v)) + bytes(v))
    return b"".join(out)


def seal(index_key: bytes, entries: bytes) -> bytes:
    """One journal object: magic ‖ nonce ‖ XChaCha20-Poly1305(journal key, entries)."""
    nonce, ct = crypto.xchacha_encrypt(_key(index_key), entries, aad=C.JOURNAL_MAGIC)
    return C.JOURNAL_MAGIC + nonce + ct


def _key(index_key: bytes) -> bytes:
    return crypto.derive_key(index_key, C.INDEX_JOURNAL)


def flush(index: Any, store: Any, index_key: bytes) -> int:
    """Seal the pending entries into a new pack, then forget them (in that order: a
    crash between the two only writes them again). Returns how many were mirrored."""
    up_to = index.journal_last()
    if up_to is None:
        return 0
    writer = store.writer()
    count = 0
    try:
        part = bytearray()
        for entry in pending(index.db, up_to):
            part += entry
            count += 1
            if len(part) >= _PART_BYTES:
                data = seal(index_key, bytes(part))
                writer.add(crypto.sha256(data), data)
                part = bytearray()
        if part or not len(writer):
            data = seal(index_key, bytes(part))
            writer.add(crypto.sha256(data), data)
        pack = writer.close()
    except BaseException:
        writer.abort()
        raise
    with index.transaction():
        index.insert_pack(pack, kinds={e.object_id: "journal" for e in pack.entries})
        index.drop_journal(up_to)
    return count


# --- rebuilding -----------------------------------------------------------------------------

def open_object(index_key: bytes, data: bytes) -> list[tuple[int, str, int, list[Any]]]:
    """The entries of one journal object; IntegrityError if it was changed."""
    if not data.startswith(C.JOURNAL_MAGIC):
        raise FormatError("not a journal object")
    start = len(C.JOURNAL_MAGIC)
    plain = crypto.xchacha_decrypt(_key(index_key), data[start:start + C.XCHACHA_NONCE_BYTES],
                                   data[start + C.XCHACHA_NONCE_BYTES:], aad=C.JOURNAL_MAGIC,
                                   what="journal object")
    try:
        return list(_decode(plain))
    except (struct.error, IndexError, UnicodeDecodeError, ValueError) as e:
        raise FormatError("a journal object is malformed") from e


def _decode(data: bytes) -> Iterator[tuple[int, str, int, list[Any]]]:
    at = 0
    while at < len(data):
        seq, table, op, count = _ENTRY.unpack_from(data, at)
        at += _ENTRY.size
        if table >= len(MIRRORED) or op not in (_PUT, _DEL):
            raise ValueError("unknown table or change")
        values: list[Any] = []
        for _ in range(count):
            tag = data[at]
            at += 1
            if tag == _NULL:
                values.append(None)
            elif tag == _INT:
                values.append(_I64.unpack_from(data, at)[0])
                at += 8
            elif tag in (_TEXT, _BLOB):
                (length,) = _U32.unpack_from(data, at)
                raw = data[at + 4:at + 4 + length]
                if len(raw) != length:
                    raise ValueError("truncated value")
                values.append(raw.decode("utf-8") if tag == _TEXT else bytes(raw))
                at += 4 + length
            else:
                raise ValueError("unknown value tag")
        yield seq, MIRRORED[table], op, values


def replay(db: Any, entries: Iterable[tuple[int, str, int, list[Any]]]) -> int:
    """Apply entries in sequence order, each once; return the last sequence number."""
    shapes = {t: ([n for n, _ in columns(db, t)], [n for n, _ in primary_key(db, t)]) for t in MIRRORED}
    last = 0
    for seq, table, op, values in sorted({e[0]: e for e in entries}.values()):
        names, keys = shapes[table]
        if op == _PUT:
            if len(values) != len(names):
                raise FormatError(f"a journal entry for {table} has {len(values)} columns, not {len(names)}")
            db.execute(f"INSERT OR REPLACE INTO {table} ({','.join(names)}) "
                       f"VALUES ({','.join('?' * len(names))})", values)
        else:
            if len(values) != len(keys):
                raise FormatError(f"a journal deletion for {table} does not name its key")
            db.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = ?' for k in keys)}", values)
        last = seq
    return last
