"""Check the code against every test vector in tests/vectors/*.json (docs/format.md §15).

Each file is one case. `expect: ok` means the code must produce exactly the outputs from
the inputs (and accept them); any other value names the one error the code must raise.
The vectors were made once by generate.py; this file never regenerates them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from archive import constants as C
from archive import crypto
from archive.api import passphrase_bytes
from archive.chunks import decrypt_file_chunks, encrypt_chunk, padded_chunks
from archive.encoding import (canonical, group_fingerprint, padme, parse_canonical, parse_time,
                              read_u16)
from archive.errors import (FormatError, IntegrityError, KeyAccessError, SignatureError, TrustError,
                            UsageError)
from archive.index import MetaSealer
from archive.keys import (SecretKeys, card_from_dict, decode_secret_key_file, encode_secret_key_file,
                          fingerprint, parse_card, parse_revocation, revocation_certificate, sign_card)
from archive.records import (Draft, build_statement, check_field_value, decode_payload,
                             envelope_payload, field_digest, open_envelope, record_id, seal_envelope,
                             stanza_count, verify_statement)
from archive.store import Store, pack_id_for
from archive.textinput import parse_text

from .generate import pattern, unsafe_deterministic_seal

HERE = Path(__file__).resolve().parent
FILES = sorted(HERE.glob("*.json"))
ERRORS = {"format": FormatError, "integrity": IntegrityError, "signature": SignatureError,
          "trust": TrustError, "key": KeyAccessError, "usage": UsageError}


def b(text: str) -> bytes:
    return bytes.fromhex(text)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def raises(case: dict[str, Any]):
    return pytest.raises(ERRORS[case["expect"]])


# --- one checker per kind ---------------------------------------------------------------------

def check_canonical_json(case, inp, out):
    if case["expect"] == "ok":
        assert canonical(inp["value"]) == b(out["canonical"])
        assert parse_canonical(b(out["canonical"])) == inp["value"]
    else:
        with raises(case):
            parse_canonical(b(inp["bytes"]))


def check_time(case, inp, out):
    if case["expect"] == "ok":
        assert parse_time(inp["text"]) == inp["text"]
    else:
        with raises(case):
            parse_time(inp["text"])


def check_padme(case, inp, out):
    for length, padded in out["table"]:
        assert padme(length) == padded, length
        assert padded >= length


def check_stanza_count(case, inp, out):
    if case["expect"] == "ok":
        for recipients, n in out["table"]:
            assert stanza_count(recipients) == n, recipients
    else:
        with raises(case):
            stanza_count(inp["recipients"])


def check_fingerprint(case, inp, out):
    fp = fingerprint(b(inp["sign_key"]), b(inp["box_key"]))
    assert fp == out["fingerprint"]
    assert group_fingerprint(fp) == out["short"]


def check_identity_card(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            parse_card(b(inp["card"]))
        return
    card = sign_card(b(inp["sign_seed"]), b(inp["box_secret"]), name=inp["name"], created=inp["created"])
    assert card.sign_key == b(out["sign_key"]) and card.box_key == b(out["box_key"])
    assert canonical(card.unsigned_dict()) == b(out["unsigned"])
    assert card.self_signature == b(out["self_signature"])
    assert card.to_bytes() == b(out["card"])
    assert card.fingerprint == out["fingerprint"]
    crypto.verify(card.sign_key, purpose=C.IDENTITY, message=b(out["unsigned"]),
                  signature=card.self_signature)
    for data in (b(out["card"]), b(out["file"])):   # with or without its one trailing LF
        assert parse_card(data) == card
    assert card_from_dict(json.loads(b(out["card"]))) == card


def check_revocation(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            parse_revocation(b(inp["certificate"]))
        return
    card = sign_card(b(inp["sign_seed"]), b(inp["box_secret"]), name=inp["name"], created=inp["created"])
    cert = revocation_certificate(b(inp["sign_seed"]), card, created=inp["revocation_created"])
    assert cert == b(out["certificate"])
    value = parse_revocation(b(out["file"]))
    assert canonical({k: v for k, v in value.items() if k != "signature"}) == b(out["unsigned"])
    crypto.verify(card.sign_key, purpose=C.REVOCATION, message=b(out["unsigned"]),
                  signature=b(value["signature"]))


def _keys(inp) -> SecretKeys:
    seed, box = b(inp["sign_seed"]), b(inp["box_secret"])
    card = sign_card(seed, box, name=inp["name"], created=inp["created"])
    return SecretKeys(seed, box, b(inp["convergence_secret"]), b(inp["index_key"]), card)


def check_secret_key_file(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            decode_secret_key_file(b(inp["file"]), passphrase_bytes(inp["passphrase"]))
        return
    assert (inp["opslimit"], inp["memlimit"]) == C.KDF_PROFILES[inp["profile"]]
    pw = passphrase_bytes(inp["passphrase"])
    assert pw == b(out["passphrase_bytes"])
    keys = _keys(inp)
    blob = encode_secret_key_file(keys, pw, opslimit=inp["opslimit"], memlimit=inp["memlimit"],
                                  salt=b(inp["salt"]), nonce=b(inp["nonce"]))
    assert blob == b(out["file"])
    assert blob.startswith(b(out["header"]) + b(inp["nonce"]))
    assert crypto.argon2id(pw, b(inp["salt"]), opslimit=inp["opslimit"],
                           memlimit=inp["memlimit"]) == b(out["kdf_key"])
    assert crypto.xchacha_decrypt(b(out["kdf_key"]), b(inp["nonce"]), blob[len(b(out["header"])) + 24:],
                                  aad=b(out["header"]), what="key file") == b(out["payload"])
    opened = decode_secret_key_file(blob, pw)
    assert opened == keys
    assert opened.card.fingerprint == out["fingerprint"]


def check_field_digest(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            check_field_value(inp["name"], inp["value"])
        return
    check_field_value(inp["name"], inp["value"])
    assert canonical([inp["name"], inp["value"]]) == b(out["preimage"])
    assert field_digest(b(inp["salt"]), inp["name"], inp["value"]) == b(out["digest"])


def check_statement(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            verify_statement(b(inp["statement"]), b(inp["signature"]))
        return
    # A card's own `created` does not enter a statement (author = name, sign_key, box_key).
    card = sign_card(b(inp["sign_seed"]), b(inp["box_secret"]), name=inp["name"], created=inp["created"])
    draft = Draft(inp["kind"], dict(inp["fields"]), tuple(inp["attachments"]), tuple(inp["supersedes"]))
    statement, disclosures = build_statement(card, draft, created=inp["created"], nonce=b(inp["nonce"]),
                                             salts=[b(s) for s in inp["salts"]])
    data = canonical(statement)
    assert data == b(out["statement"])
    assert disclosures == out["disclosures"]
    assert crypto.sign(b(inp["sign_seed"]), purpose=C.STATEMENT, message=data) == b(out["signature"])
    assert record_id(data) == out["record_id"]
    assert verify_statement(data, b(out["signature"])) == statement
    for salt, name, value in disclosures:
        digest = field_digest(b(salt), name, value).hex()
        assert digest in (statement["attachments"] if name == "attachment" else statement["fields"])


def check_envelope(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            open_envelope(b(inp["envelope"]), b(inp["box_secret"]))
        return
    envelope = b(out["envelope"])
    opened = open_envelope(envelope, b(inp["box_secret"]))
    assert opened.record_id == out["record_id"]
    assert opened.statement_bytes == b(out["statement"])
    assert opened.signature == b(out["signature"])
    assert [list(d) for d in opened.disclosures] == out["disclosures"]
    assert opened.chunks == out["chunks"]
    # The payload: u32 length ‖ canonical JSON ‖ the fewest zeros to a multiple of 1 KiB.
    payload = b(out["payload"])
    assert envelope_payload(json.loads(b(out["statement"])), b(out["signature"]), out["disclosures"],
                            out["chunks"]) == payload
    assert payload[4:4 + int.from_bytes(payload[:4], "big")] == canonical(inp["payload_json"])
    assert decode_payload(payload).record_id == out["record_id"]
    # Rebuild the exact bytes: magic ‖ u16 n ‖ stanzas ‖ nonce ‖ XChaCha20-Poly1305(AAD = all before).
    stanzas = b"".join(unsafe_deterministic_seal(b(s["recipient_box_key"]), b(inp["data_key"]),
                                                 b(s["ephemeral_secret"])) for s in inp["stanzas"])
    head = C.ENVELOPE_MAGIC + len(inp["stanzas"]).to_bytes(2, "big") + stanzas + b(inp["nonce"])
    if "aad" in out:
        assert head == b(out["aad"])
    _, sealed = crypto.xchacha_encrypt(b(inp["data_key"]), payload, aad=head, nonce=b(inp["nonce"]))
    assert head + sealed == envelope
    assert read_u16(envelope, len(C.ENVELOPE_MAGIC)) == len(inp["stanzas"])
    # The archive's own sealing (random stanzas, shuffled) gives an envelope of the same
    # length that opens to the same record.
    ours = seal_envelope(payload, [crypto.box_public_key(b(inp["box_secret"]))],
                         data_key=b(inp["data_key"]), nonce=b(inp["nonce"]))
    if len(inp["stanzas"]) == 4:
        assert len(ours) == len(envelope)
    assert open_envelope(ours, b(inp["box_secret"])).record_id == out["record_id"]
    # The attachment named in the record decrypts from its chunks to its SHA-256.
    if "attachment_file" in inp:
        keyer = crypto.ChunkKeyer(b(inp["convergence_secret"]))
        objects = {c.object_id: c.obj for c in (encrypt_chunk(keyer, p)
                                                 for p in padded_chunks(b(inp["attachment_file"])))}
        (attachment,) = opened.attachments
        got = b"".join(decrypt_file_chunks(opened.chunks[attachment["sha256"]], objects.__getitem__,
                                           size=attachment["size"], sha256_hex=attachment["sha256"]))
        assert got == b(inp["attachment_file"])


def check_chunk(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            crypto.chunk_decrypt(b(inp["key"]), b(inp["object"]))
        return
    chunk = encrypt_chunk(crypto.ChunkKeyer(b(inp["convergence_secret"])), b(inp["chunk"]))
    assert chunk.key == b(out["key"])
    assert chunk.obj == b(out["object"])
    assert chunk.object_id == b(out["id"]) == hashlib.sha256(b(out["object"])).digest()
    assert crypto.chunk_decrypt(b(out["key"]), b(out["object"])) == b(inp["chunk"])


def check_chunked_file(case, inp, out):
    data = pattern(inp["size"])
    assert hashlib.sha256(data).hexdigest() == out["sha256"]
    assert padme(inp["size"]) == out["padded_size"]
    keyer = crypto.ChunkKeyer(b(inp["convergence_secret"]))
    chunks = [encrypt_chunk(keyer, p) for p in padded_chunks(data)]
    assert [c.ref() for c in chunks] == out["chunks"]
    assert sum(c.size for c in chunks) == out["padded_size"]
    assert all(c.size == C.CHUNK_SIZE for c in chunks[:-1])
    objects = {c.object_id: c.obj for c in chunks}
    got = b"".join(decrypt_file_chunks(out["chunks"], objects.__getitem__, size=inp["size"],
                                       sha256_hex=out["sha256"]))
    assert got == data


def _store_with(tmp_path: Path, pack_id: str, data: bytes) -> Store:
    store = Store(tmp_path)
    store.create()
    folder = store.packs_dir / pack_id[:2]
    folder.mkdir()
    (folder / pack_id).write_bytes(data)
    return store


def check_pack(case, inp, out, tmp_path):
    if case["expect"] != "ok":
        store = _store_with(tmp_path, inp["pack_id"], b(inp["pack"]))
        with raises(case):
            store.scan_pack(inp["pack_id"], read_data=True)
        return
    objects = [b(o) for o in inp["objects"]]
    ids = [hashlib.sha256(o).digest() for o in objects]
    assert [i.hex() for i in ids] == out["ids"]
    assert pack_id_for(ids) == out["pack_id"]
    # The writer produces exactly these bytes under packs/<first two hex digits>/<pack id>.
    store = Store(tmp_path)
    store.create()
    writer = store.writer()
    for object_id, obj in zip(ids, objects):
        writer.add(object_id, obj)
    closed = writer.close()
    assert closed.pack_id == out["pack_id"]
    assert store.pack_path(closed.pack_id).read_bytes() == b(out["pack"])
    assert not any(store.tmp_dir.iterdir())
    entries = store.scan_pack(out["pack_id"], read_data=True)
    assert [[e.offset, e.length] for e in entries] == out["entries"]
    assert [store.read(out["pack_id"], e) for e in entries] == objects


def check_index(case, inp, out):
    sealer = MetaSealer(b(inp["index_key"]))
    if case["expect"] != "ok":
        with raises(case):
            sealer.open(inp["record_id"], b(inp["sealed"]))
        return
    assert crypto.derive_key(b(inp["index_key"]), C.INDEX_META) == b(out["meta_key"])
    assert crypto.derive_key(b(inp["index_key"]), C.INDEX_DEDUP) == b(out["dedup_key"])
    sealed = b(out["sealed"])
    assert sealed[:C.XCHACHA_NONCE_BYTES] == b(inp["nonce"])
    assert sealer.open(inp["record_id"], sealed) == inp["meta"]
    _, ct = crypto.xchacha_encrypt(b(out["meta_key"]), canonical(inp["meta"]),
                                   aad=inp["record_id"].encode("ascii"), nonce=b(inp["nonce"]))
    assert b(inp["nonce"]) + ct == sealed
    assert sealer.dedup_mac(b(inp["file_sha256"])) == b(out["dedup_mac"])


def check_text_header(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            parse_text(inp["text"])
        return
    parsed = parse_text(inp["text"])
    assert parsed.header == out["header"]
    assert parsed.body == out["body"]


CHECKERS = {
    "canonical_json": check_canonical_json, "time": check_time, "padme": check_padme,
    "stanza_count": check_stanza_count, "fingerprint": check_fingerprint,
    "identity_card": check_identity_card, "revocation": check_revocation,
    "secret_key_file": check_secret_key_file, "field_digest": check_field_digest,
    "statement": check_statement, "envelope": check_envelope, "chunk": check_chunk,
    "chunked_file": check_chunked_file, "pack": check_pack, "index": check_index,
    "text_header": check_text_header,
}


def test_vectors_exist():
    kinds = {load(p)["kind"] for p in FILES}
    assert kinds == set(CHECKERS), "every kind has vectors and a checker"
    assert len(FILES) >= 100


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path, tmp_path: Path) -> None:
    case = load(path)
    assert set(case) == {"kind", "name", "description", "expect", "inputs", "outputs"}
    assert case["name"] == path.stem
    assert case["expect"] == "ok" or case["expect"] in ERRORS
    assert case["description"]
    checker = CHECKERS[case["kind"]]
    if checker is check_pack:
        checker(case, case["inputs"], case["outputs"], tmp_path)
    else:
        checker(case, case["inputs"], case["outputs"])


# --- docs/format.md §2 is the code's table ------------------------------------------------------

FORMAT_MD = HERE.parent.parent / "docs" / "format.md"


def _doc_rows() -> dict[str, str]:
    """`| `NAME` | `bytes` | …` rows of format.md §2, with `\\0` and `\\n` read as bytes."""
    section = FORMAT_MD.read_text(encoding="utf-8").split("## 2. Domain separation")[1].split("## 3.")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1].startswith("`") and cells[2].startswith("`"):
            rows[cells[1].strip("`")] = cells[2].strip("`").replace("\\0", "\0").replace("\\n", "\n")
    return rows


def test_format_md_label_table_matches_constants():
    rows = _doc_rows()
    labels = {name: getattr(C, name) for name in dir(C)
              if isinstance(getattr(C, name), bytes) and getattr(C, name) in C.ALL_LABELS}
    assert set(labels.values()) == set(C.ALL_LABELS)
    for name, value in labels.items():
        assert rows.get(name, "").encode() == value, f"format.md §2 must list {name} = {value!r}"
    for name in ("CHUNK_AAD", "SECRET_KEY_MAGIC", "ENVELOPE_MAGIC", "PACK_MAGIC"):
        assert rows.get(name, "").encode() == getattr(C, name), name
    assert set(rows) == set(labels) | {"CHUNK_AAD", "SECRET_KEY_MAGIC", "ENVELOPE_MAGIC", "PACK_MAGIC"}
