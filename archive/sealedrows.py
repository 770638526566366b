"""What the index's rows hold, apart from the database: the record row type and the
sealer of the values the index keeps (docs/format.md §11, "Sealed metadata").

Worker processes (rehashing, receiving, sealing) need these and not SQLite: importing
them from here spares each worker sqlite_utils, a third of its start-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import constants as C
from . import crypto
from .encoding import canonical


@dataclass(frozen=True)
class RecordRow:
    record_id: str
    envelope_id: bytes
    sealed: bytes


class MetaSealer:
    """Seals what the index caches with a key derived from index_key.

    The AAD is the row's key (a record id, a peer row id...), so a sealed value moved to
    another row fails to open: this authenticates every field of the row.
    """

    def __init__(self, index_key: bytes) -> None:
        self._key = crypto.derive_key(index_key, C.INDEX_META)
        self._dedup_key = crypto.derive_key(index_key, C.INDEX_DEDUP)
        self._peer_key = crypto.derive_key(index_key, C.INDEX_PEER)

    def seal(self, row_key: str, meta: Any) -> bytes:
        return self.seal_canonical(row_key, canonical(meta))

    def seal_canonical(self, row_key: str, encoded: bytes) -> bytes:
        """`seal` for a value already in canonical bytes (no second encoding)."""
        nonce, ct = crypto.xchacha_encrypt(self._key, encoded, aad=row_key.encode())
        return nonce + ct

    def open(self, row_key: str, sealed: bytes) -> Any:
        n = C.XCHACHA_NONCE_BYTES
        plain = crypto.xchacha_decrypt(self._key, sealed[:n], sealed[n:], aad=row_key.encode(),
                                       what=f"index row {row_key[:16]}")
        # Authenticated under our own key and row: bytes this archive encoded canonically,
        # so plain json is enough (parse_canonical's re-encoding check is for what comes
        # from outside; here it was a third of `list` and of opening records in `check`).
        return json.loads(plain)

    def custody_row(self, event_id: bytes, envelope_hex: str, raw: bytes, *,
                    leaf: bytes | None) -> tuple[bytes, bytes, bytes, bytes | None]:
        """(event id, envelope id, sealed event, our log's leaf hash or None) for the custody
        table; `raw` is the signed event's canonical bytes."""
        return event_id, bytes.fromhex(envelope_hex), self.seal_canonical(event_id.hex(), raw), leaf

    def peer_id(self, fingerprint: str) -> str:
        """The index's name for a peer: a keyed hash, so the fingerprint is not in clear."""
        return crypto.keyed_hash(self._peer_key, C.INDEX_PEER, bytes.fromhex(fingerprint)).hex()

    def dedup_mac(self, file_sha256: bytes) -> bytes:
        return crypto.keyed_hash(self._dedup_key, C.INDEX_DEDUP, file_sha256)
