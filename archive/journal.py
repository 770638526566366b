"""The index journal: what only the index knows, mirrored into the store.

Records, objects and dedup rows can be derived again from the packs and the keys. Peers,
custody events and our log's order, tree heads and proofs, bundles sent and received and
acknowledgements cannot: they exist only as index rows. So every change to those tables
is captured by SQLite triggers into a `journal` table, in the same transaction as the
change, and at the end of each command (and on the next open, after a crash) the pending
entries are sealed into journal objects written to a pack. `check --rebuild-index`
replays them, in order, into a fresh index (format.md §26).

A journal object is JOURNAL_MAGIC ‖ 24-byte nonce ‖ XChaCha20-Poly1305(key, payload,
AAD = magic), the key derived from index_key (label `index/journal`); the payload is
the JSON `{"first": seq, "last": seq, "entries": [[seq, table, op, row], ...]}`.
Entries are idempotent row images (`put` = insert or replace the whole row, `del` =
delete it), so replaying an entry twice (a flush cut off before its commit is written
again) changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from . import constants as C
from . import crypto
from .errors import FormatError

# Tables whose rows cannot be derived from the packs and the keys.
MIRRORED = ("peers", "revocations", "settings", "received", "sent", "sent_objects", "peer_has",
            "custody", "log_leaves", "heads", "sent_heads", "proofs", "forks")
_PART_BYTES = 4 << 20   # payload bytes per journal object, well under an object's limit


def install(db: Any) -> None:
    """The journal table and a trigger per change of every mirrored table."""
    db.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, "
               "op TEXT NOT NULL, row TEXT NOT NULL)")
    for table in MIRRORED:
        columns = _columns(db, table)

        def image(prefix: str) -> str:
            return "json_array(" + ", ".join(
                f"hex({prefix}.{name})" if blob else f"{prefix}.{name}" for name, blob in columns) + ")"

        for event, op, prefix in (("INSERT", "put", "NEW"), ("UPDATE", "put", "NEW"),
                                  ("DELETE", "del", "OLD")):
            db.execute(f"CREATE TRIGGER journal_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN INSERT INTO journal (tbl, op, row) "
                       f"VALUES ('{table}', '{op}', {image(prefix)}); END")
        # An index made before the journal existed: its rows are journaled once, now.
        db.execute(f"INSERT INTO journal (tbl, op, row) SELECT '{table}', 'put', "
                   f"{image(table)} FROM {table}")


def _columns(db: Any, table: str) -> list[tuple[str, bool]]:
    """(name, is a blob) of each column, in order."""
    return [(r[1], r[2].upper() == "BLOB") for r in db.execute(f"PRAGMA table_info({table})")]


def seal_entries(index_key: bytes, entries: list[tuple[int, str, str, str]]) -> list[bytes]:
    """Journal objects for pending entries (seq, table, op, row JSON), in parts."""
    key = crypto.derive_key(index_key, C.INDEX_JOURNAL)
    objects, part, size = [], [], 0
    for entry in entries:
        text = f'[{entry[0]},"{entry[1]}","{entry[2]}",{entry[3]}]'   # row is SQLite's JSON
        if part and size + len(text) > _PART_BYTES:
            objects.append(_seal(key, part))
            part, size = [], 0
        part.append((entry[0], text))
        size += len(text) + 1
    if part:
        objects.append(_seal(key, part))
    return objects


def _seal(key: bytes, part: list[tuple[int, str]]) -> bytes:
    payload = (f'{{"first":{part[0][0]},"last":{part[-1][0]},"entries":['
               + ",".join(text for _, text in part) + "]}").encode("utf-8")
    nonce, ct = crypto.xchacha_encrypt(key, payload, aad=C.JOURNAL_MAGIC)
    return C.JOURNAL_MAGIC + nonce + ct


def open_object(index_key: bytes, data: bytes) -> list[tuple[int, str, str, list[Any]]]:
    """The entries of one journal object; IntegrityError if it was changed."""
    key = crypto.derive_key(index_key, C.INDEX_JOURNAL)
    start = len(C.JOURNAL_MAGIC)
    if not data.startswith(C.JOURNAL_MAGIC):
        raise FormatError("not a journal object")
    plain = crypto.xchacha_decrypt(key, data[start:start + C.XCHACHA_NONCE_BYTES],
                                   data[start + C.XCHACHA_NONCE_BYTES:], aad=C.JOURNAL_MAGIC,
                                   what="journal object")
    try:
        value = json.loads(plain)
        entries = [(int(seq), str(table), str(op), list(row)) for seq, table, op, row in value["entries"]]
    except (ValueError, KeyError, TypeError) as e:
        raise FormatError("a journal object is malformed") from e
    for _, table, op, _ in entries:
        if table not in MIRRORED or op not in ("put", "del"):
            raise FormatError("a journal object names an unknown table or change")
    return entries


def replay(db: Any, entries: Iterable[tuple[int, str, str, list[Any]]]) -> int:
    """Apply entries in sequence order, each once; return the last sequence number."""
    columns = {table: _columns(db, table) for table in MIRRORED}
    keys = {table: [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[5]]
            for table in MIRRORED}
    last = 0
    for seq, table, op, row in sorted({e[0]: e for e in entries}.values()):
        cols = columns[table]
        if len(row) != len(cols):
            raise FormatError(f"a journal entry for {table} has {len(row)} columns, not {len(cols)}")
        values = {name: (bytes.fromhex(v) if blob and v is not None else v)
                  for (name, blob), v in zip(cols, row)}
        if op == "put":
            names = ",".join(values)
            db.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES "
                       f"({','.join('?' * len(values))})", list(values.values()))
        else:
            where = " AND ".join(f"{k} = ?" for k in keys[table])
            db.execute(f"DELETE FROM {table} WHERE {where}", [values[k] for k in keys[table]])
        last = seq
    return last


def flush(index: Any, store: Any, index_key: bytes) -> int:
    """Seal the pending entries into a new pack, then forget them (in that order: a
    crash between the two only writes them twice). Returns how many were mirrored."""
    entries = index.journal_pending()
    if not entries:
        return 0
    writer = store.writer()
    try:
        for data in seal_entries(index_key, entries):
            writer.add(crypto.sha256(data), data)
        pack = writer.close()
    except BaseException:
        writer.abort()
        raise
    with index.transaction():
        index.insert_pack(pack, kinds={e.object_id: "journal" for e in pack.entries})
        index.drop_journal(entries[-1][0])
    return len(entries)
