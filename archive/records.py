"""Statements (what an author signs), their field commitments, and envelopes (seal/open).

A statement holds only salted digests of its fields and attachments, so any part can
later be shown without the rest. The envelope carries the statement, its signature,
the disclosures (salt, name, value) and the chunk keys, encrypted to its recipients.
Opening an envelope checks the signature and every disclosure against its digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import constants as C
from . import crypto, sshsig
from .encoding import (canonical, from_hex, pad_to_multiple, padme, parse_canonical, parse_time,
                       read_u16, read_u32, to_hex, u16, u32)
from .errors import FormatError, IntegrityError, TrustError, UsageError
from .keys import IdentityCard, SecretKeys, fingerprint

_HEX64 = 64
_LOWER_HEX = re.compile("[0-9a-f]*")


def field_digest(salt: bytes, name: str, value: Any) -> bytes:
    """SHA-256(field label ‖ 16-byte salt ‖ canonical([name, value]))."""
    return crypto.labelled_hash(C.FIELD, salt, canonical([name, value]))


def record_id(statement_bytes: bytes) -> str:
    """SHA-256(record label ‖ canonical statement): names the signed statement itself."""
    return crypto.labelled_hash(C.RECORD, statement_bytes).hex()


# --- Field values ------------------------------------------------------------------------

def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_field_value(name: str, value: Any) -> None:
    """The shape each field's value must have; a FormatError names the field."""
    ok = _FIELD_SHAPES.get(name)
    if ok is None:
        raise FormatError(f"unknown field {name!r}")
    if not ok(value):
        raise FormatError(f"field {name!r} has a value of the wrong shape")


# What each field's value must look like (one table, not one built per check).
_FIELD_SHAPES: dict[str, Any] = {
    "title": lambda v: isinstance(v, str),
    "body": lambda v: isinstance(v, str),
    "language": lambda v: isinstance(v, str),
    "location": lambda v: isinstance(v, str),
    "tags": _is_str_list,
    "witness": lambda v: (isinstance(v, dict) and set(v) == {"pseudonym", "consent"}
                          and isinstance(v["pseudonym"], str)
                          and v["consent"] in C.CONSENT_LEVELS),
    C.ATTACHMENT_FIELD: lambda v: (
        isinstance(v, dict) and set(v) == {"name", "media_type", "size", "sha256"}
        and isinstance(v["name"], str) and isinstance(v["media_type"], str)
        and isinstance(v["size"], int) and not isinstance(v["size"], bool) and v["size"] >= 0
        and isinstance(v["sha256"], str) and len(v["sha256"]) == _HEX64
        and _LOWER_HEX.fullmatch(v["sha256"]) is not None),
}


# --- Statements --------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """What the author wants to sign, before salts and digests."""

    kind: str
    fields: dict[str, Any]
    attachments: tuple[dict[str, Any], ...] = ()
    supersedes: tuple[str, ...] = ()


def build_statement(card: IdentityCard, draft: Draft, *, created: str, nonce: bytes,
                    salts: list[bytes]) -> tuple[dict[str, Any], list[list[Any]]]:
    """Pure: the statement dict and its disclosures. `salts` has one 16-byte salt per item."""
    if draft.kind not in C.RECORD_KINDS:
        raise ValueError(f"unknown record kind {draft.kind!r}")
    items = [(name, value) for name, value in draft.fields.items()]
    items += [(C.ATTACHMENT_FIELD, a) for a in draft.attachments]
    if len(salts) != len(items):
        raise ValueError("one salt per field and attachment")
    disclosures, fields, attachments = [], [], []
    for (name, value), salt in zip(items, salts):
        check_field_value(name, value)
        digest = field_digest(salt, name, value).hex()
        (attachments if name == C.ATTACHMENT_FIELD else fields).append(digest)
        disclosures.append([to_hex(salt), name, value])
    statement = {
        "type": C.STATEMENT_TYPE, "version": C.FORMAT_VERSION, "kind": draft.kind,
        "author": card.author_dict(), "created": created, "nonce": to_hex(nonce),
        "supersedes": sorted(draft.supersedes), "fields": sorted(fields),
        "attachments": sorted(attachments),
    }
    disclosures.sort(key=lambda d: field_digest(bytes.fromhex(d[0]), d[1], d[2]))
    return statement, disclosures


def check_statement(value: Any) -> dict[str, Any]:
    """Shape checks of a statement dict (its signature is checked separately)."""
    expected = {"type", "version", "kind", "author", "created", "nonce", "supersedes",
                "fields", "attachments"}
    if not isinstance(value, dict) or set(value) != expected:
        raise FormatError("statement has missing or unknown fields")
    if value["type"] != C.STATEMENT_TYPE:
        raise FormatError("not a testimony statement")
    if type(value["version"]) is not int or value["version"] != C.FORMAT_VERSION:
        raise FormatError(f"statement version {value['version']!r} is not supported")
    if value["kind"] not in C.RECORD_KINDS:
        raise FormatError("statement kind is unknown")
    author = value["author"]
    if not (isinstance(author, dict) and set(author) == {"name", "sign_key", "box_key"}
            and isinstance(author["name"], str)):
        raise FormatError("statement author is malformed")
    from_hex(author["sign_key"], length=32, what="author sign_key")
    from_hex(author["box_key"], length=32, what="author box_key")
    parse_time(value["created"], what="statement created")
    from_hex(value["nonce"], length=16, what="statement nonce")
    for name in ("supersedes", "fields", "attachments"):
        items = value[name]
        if not isinstance(items, list):
            raise FormatError(f"statement {name} must be a sorted list without repeats")
        for item in items:  # shapes first: sorting non-strings would raise TypeError
            from_hex(item, length=32, what=f"statement {name} entry")
        if items != sorted(set(items)):
            raise FormatError(f"statement {name} must be a sorted list without repeats")
    return value


def sign_statement(keys: SecretKeys, statement: dict[str, Any]) -> tuple[bytes, bytes]:
    """Return (canonical statement bytes, Ed25519 signature)."""
    data = canonical(statement)
    return data, crypto.sign(keys.sign_seed, purpose=C.STATEMENT, message=data)


def verify_statement(statement_bytes: bytes, signature: bytes) -> dict[str, Any]:
    """Check a statement's shape and its author's signature over the exact bytes."""
    return _verified(parse_canonical(statement_bytes, what="statement"), statement_bytes, signature)


def _verified(statement: Any, statement_bytes: bytes, signature: bytes) -> dict[str, Any]:
    """`statement` parsed from canonical `statement_bytes` (or they encode it): shape and
    signature."""
    check_statement(statement)
    sign_key = bytes.fromhex(statement["author"]["sign_key"])
    crypto.verify(sign_key, purpose=C.STATEMENT, message=statement_bytes, signature=signature)
    return statement


# --- Envelopes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenedRecord:
    """A record whose envelope opened, whose signature and disclosures all checked."""

    record_id: str
    statement: dict[str, Any]
    statement_bytes: bytes
    signature: bytes
    disclosures: tuple[tuple[str, str, Any], ...]
    chunks: dict[str, list[dict[str, Any]]]
    ssh_signature: bytes     # the same statement signed as an OpenSSH SSHSIG (namespace testimony)
    slot: int | None = None  # the envelope stanza that opened (None: decoded from a payload)

    @property
    def kind(self) -> str:
        return self.statement["kind"]

    @property
    def author_fingerprint(self) -> str:
        a = self.statement["author"]
        return fingerprint(bytes.fromhex(a["sign_key"]), bytes.fromhex(a["box_key"]))

    @property
    def fields(self) -> dict[str, Any]:
        return {name: value for _, name, value in self.disclosures if name != C.ATTACHMENT_FIELD}

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return [value for _, name, value in self.disclosures if name == C.ATTACHMENT_FIELD]


def envelope_payload(statement: dict[str, Any], signature: bytes, disclosures: list[list[Any]],
                     chunks: dict[str, list[dict[str, Any]]], *, ssh_signature: bytes) -> bytes:
    body = canonical({"statement": statement, "signature": to_hex(signature),
                      "sshsig": to_hex(ssh_signature), "disclosures": disclosures, "chunks": chunks})
    framed = u32(len(body)) + body
    return framed + bytes(pad_to_multiple(len(framed), C.ENVELOPE_PAD_MULTIPLE) - len(framed))


def stanza_count(recipients: int) -> int:
    n = max(C.ENVELOPE_MIN_STANZAS, pad_to_multiple(recipients, 4))
    if n > C.ENVELOPE_MAX_STANZAS:
        raise UsageError(f"a record can have at most {C.ENVELOPE_MAX_STANZAS} recipients, not {recipients}")
    return n


def seal_envelope(payload: bytes, recipient_box_keys: list[bytes], *, data_key: bytes | None = None,
                  nonce: bytes | None = None) -> bytes:
    """magic ‖ u16 n ‖ n sealed stanzas ‖ nonce ‖ XChaCha20-Poly1305(payload, AAD=all before)."""
    return _seal(payload, recipient_box_keys, data_key=data_key, nonce=nonce)[0]


def _seal(payload: bytes, recipient_box_keys: list[bytes], *, data_key: bytes | None = None,
          nonce: bytes | None = None) -> tuple[bytes, int]:
    """(the envelope, the stanza the first recipient's key opens)."""
    unique = list(dict.fromkeys(bytes(k) for k in recipient_box_keys))
    n = stanza_count(len(unique))
    data_key = data_key or crypto.random_bytes(C.KEY_BYTES)
    # Unused slots seal to throwaway keys, so the count of real recipients does not show.
    keys = unique + list(crypto.throwaway_box_keys()[:n - len(unique)])
    crypto.shuffle(keys)
    stanzas = b"".join(crypto.seal_to(k, data_key) for k in keys)
    nonce = nonce or crypto.random_bytes(C.XCHACHA_NONCE_BYTES)
    head = C.ENVELOPE_MAGIC + u16(n) + stanzas + nonce
    _, sealed = crypto.xchacha_encrypt(data_key, payload, aad=head, nonce=nonce)
    return head + sealed, keys.index(unique[0])


def _envelope_layout(untrusted: bytes) -> tuple[int, int]:
    """Check the clear layout; return (stanza count, offset of the ciphertext)."""
    if len(untrusted) > C.MAX_ENVELOPE_BYTES:
        raise FormatError("envelope is larger than the limit")
    magic_len = len(C.ENVELOPE_MAGIC)
    if not untrusted.startswith(C.ENVELOPE_MAGIC) or len(untrusted) < magic_len + 2:
        raise FormatError("not a testimony envelope")
    n = read_u16(untrusted, magic_len)
    if not (C.ENVELOPE_MIN_STANZAS <= n <= C.ENVELOPE_MAX_STANZAS and n % 4 == 0):
        raise FormatError(f"envelope declares {n} stanzas")
    ct_at = magic_len + 2 + n * C.SEALED_BOX_BYTES + C.XCHACHA_NONCE_BYTES
    if len(untrusted) < ct_at + 16 + C.ENVELOPE_PAD_MULTIPLE:
        raise FormatError("envelope is truncated")
    return n, ct_at


def open_envelope(untrusted: bytes, box_secret: bytes, *, slot: int | None = None) -> OpenedRecord:
    """Decrypt, then check framing, canonical form, signature and every disclosure.

    `slot` is where our stanza was last time (the index keeps it, sealed): tried first,
    it spares trying each stanza in turn, which was a fifth of opening a record. It is
    only a hint: a wrong one costs one more try."""
    n, ct_at = _envelope_layout(untrusted)
    first = len(C.ENVELOPE_MAGIC) + 2
    data_key, ours = None, None
    # The first slot that opens is ours. Stopping there shows nothing in the timing: the
    # slots were shuffled, so a slot's position is a coin toss that names nobody.
    order = range(n) if slot is None or not 0 <= slot < n else (slot, *range(slot), *range(slot + 1, n))
    for i in order:
        opened = crypto.open_sealed(box_secret, untrusted[first + i * C.SEALED_BOX_BYTES:
                                                          first + (i + 1) * C.SEALED_BOX_BYTES])
        if opened is not None and len(opened) == C.KEY_BYTES:
            data_key, ours = opened, i
            break
    if data_key is None:
        raise TrustError("this record is not addressed to our key")
    nonce = untrusted[ct_at - C.XCHACHA_NONCE_BYTES:ct_at]
    payload = crypto.xchacha_decrypt(data_key, nonce, untrusted[ct_at:], aad=untrusted[:ct_at],
                                     what="envelope")
    return decode_payload(payload, slot=ours)


def decode_payload(payload: bytes, *, slot: int | None = None) -> OpenedRecord:
    if len(payload) < 4 or len(payload) % C.ENVELOPE_PAD_MULTIPLE:
        raise FormatError("envelope payload is not padded to 1 KiB")
    length = read_u32(payload, 0)
    if 4 + length > len(payload) or pad_to_multiple(4 + length, C.ENVELOPE_PAD_MULTIPLE) != len(payload):
        raise FormatError("envelope payload length is wrong")
    if any(payload[4 + length:]):
        raise FormatError("envelope padding is not zero")
    body = parse_canonical(payload[4:4 + length], what="envelope payload")
    if not isinstance(body, dict) or set(body) != {"statement", "signature", "sshsig", "disclosures",
                                                   "chunks"}:
        raise FormatError("envelope payload has missing or unknown fields")
    # The payload was canonical, so encoding its statement again gives the exact bytes
    # signed, and parsing those would give back the same dict: it is checked as it is.
    statement_bytes = canonical(body["statement"])
    signature = from_hex(body["signature"], length=64, what="signature")
    statement = _verified(body["statement"], statement_bytes, signature)
    ssh_signature = from_hex(body["sshsig"], length=64, what="sshsig")
    sshsig.verify(bytes.fromhex(statement["author"]["sign_key"]), statement_bytes, ssh_signature)
    disclosures = _check_disclosures(statement, body["disclosures"])
    chunks = _check_chunks(body["chunks"], disclosures)
    return OpenedRecord(record_id(statement_bytes), statement, statement_bytes, signature,
                        disclosures, chunks, ssh_signature, slot)


def check_disclosure(statement: dict[str, Any], item: Any,
                     committed: tuple[frozenset[str], frozenset[str]] | None = None) -> tuple[str, str, Any]:
    """One [salt, name, value] against the statement's digests; IntegrityError if it lies.
    `committed` (from committed_digests) saves rebuilding the sets for each item."""
    return _checked_disclosure(statement, item, committed or committed_digests(statement))[0]


def committed_digests(statement: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """(field digests, attachment digests) as sets: a lookup per disclosed item, not a scan."""
    return frozenset(statement["fields"]), frozenset(statement["attachments"])


def _checked_disclosure(statement: dict[str, Any], item: Any,
                        committed: tuple[frozenset[str], frozenset[str]]) -> tuple[tuple[str, str, Any], str]:
    """(disclosure, its digest) once the digest is found among the committed ones."""
    if not (isinstance(item, list) and len(item) == 3 and isinstance(item[1], str)):
        raise FormatError("a disclosure is not [salt, name, value]")
    salt = from_hex(item[0], length=C.FIELD_SALT_BYTES, what="disclosure salt")
    check_field_value(item[1], item[2])
    digest = field_digest(salt, item[1], item[2]).hex()
    if digest not in committed[1 if item[1] == C.ATTACHMENT_FIELD else 0]:
        raise IntegrityError(f"disclosed {item[1]} does not match the signed statement")
    return (item[0], item[1], item[2]), digest


def _check_disclosures(statement: dict[str, Any], items: Any) -> tuple[tuple[str, str, Any], ...]:
    if not isinstance(items, list):
        raise FormatError("disclosures must be a list")
    committed = committed_digests(statement)
    pairs = [_checked_disclosure(statement, item, committed) for item in items]
    if sorted(d for _, d in pairs) != sorted(statement["fields"] + statement["attachments"]):
        raise IntegrityError("the envelope does not disclose exactly what the statement commits to")
    checked = tuple(c for c, _ in pairs)
    names = [n for _, n, _ in checked if n != C.ATTACHMENT_FIELD]
    if len(names) != len(set(names)):
        raise FormatError("a field is disclosed twice")
    return checked


def _check_chunks(value: Any, disclosures: tuple[tuple[str, str, Any], ...]) -> dict[str, list[dict[str, Any]]]:
    sizes = {v["sha256"]: v["size"] for _, n, v in disclosures if n == C.ATTACHMENT_FIELD}
    if not isinstance(value, dict) or set(value) != set(sizes):
        raise FormatError("envelope chunk lists do not match its attachments")
    for sha, chunk_list in value.items():
        if not isinstance(chunk_list, list):
            raise FormatError("a chunk list is malformed")
        total = 0
        for chunk in chunk_list:
            if not (isinstance(chunk, dict) and set(chunk) == {"id", "key", "size"}
                    and type(chunk["size"]) is int and 0 < chunk["size"] <= C.CHUNK_SIZE):
                raise FormatError("a chunk entry is malformed")
            from_hex(chunk["id"], length=32, what="chunk id")
            from_hex(chunk["key"], length=32, what="chunk key")
            total += chunk["size"]
        if total != padme(sizes[sha]):
            raise FormatError("a chunk list does not cover its attachment's padded size")
    return value


# --- Creating a record (supplies the randomness the pure functions take) -----------------

@dataclass(frozen=True)
class SealedRecord:
    record_id: str
    envelope: bytes
    envelope_id: bytes
    statement: dict[str, Any]
    slot: int                # the stanza sealed to the author (kept, sealed, in the index)


def create_record(keys: SecretKeys, draft: Draft, *, chunks: dict[str, list[dict[str, Any]]],
                  recipients: list[bytes], created: str) -> SealedRecord:
    """Sign a draft and seal it to its author and `recipients` (box public keys)."""
    count = len(draft.fields) + len(draft.attachments)
    statement, disclosures = build_statement(
        keys.card, draft, created=created, nonce=crypto.random_bytes(16),
        salts=[crypto.random_bytes(C.FIELD_SALT_BYTES) for _ in range(count)])
    data, signature = sign_statement(keys, statement)
    payload = envelope_payload(statement, signature, disclosures, chunks,
                               ssh_signature=sshsig.sign(keys.sign_seed, data))
    if len(payload) > C.MAX_OBJECT_BYTES - 64 * 1024:  # a pack entry's limit, with room for stanzas
        raise UsageError("this record's files are too large for one record "
                         f"(its chunk list needs {len(payload):,} bytes)",
                         hint="split the evidence into files under about 100 GiB each")
    envelope, slot = _seal(payload, [keys.card.box_key, *recipients])
    return SealedRecord(record_id(data), envelope, crypto.sha256(envelope), statement, slot)


def index_meta(statement: dict[str, Any], fields: dict[str, Any],
               attachments: list[dict[str, Any]] | tuple[dict[str, Any], ...], *,
               slot: int | None) -> dict[str, Any]:
    """What list/show/search need without opening the envelope (sealed in the index),
    and which stanza of the envelope is ours (`open_envelope`'s hint)."""
    author = statement["author"]
    meta = {"kind": statement["kind"], "created": statement["created"],
            "author": author["name"],
            "author_fingerprint": fingerprint(bytes.fromhex(author["sign_key"]),
                                              bytes.fromhex(author["box_key"])),
            "supersedes": statement["supersedes"], "fields": fields,
            "attachments": list(attachments)}
    if slot is not None:
        meta["slot"] = slot
    return meta


def slot_hint(meta: Any) -> int | None:
    """The stanza index_meta kept, if `meta` (a row's opened metadata) has a sane one."""
    slot = meta.get("slot") if isinstance(meta, dict) else None
    return slot if type(slot) is int and 0 <= slot < C.ENVELOPE_MAX_STANZAS else None
