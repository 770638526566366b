"""Check the code against every test vector in tests/vectors/*.json (docs/format.md §15).

Each file is one case. `expect: ok` means the code must produce exactly the outputs from
the inputs (and accept them); any other value names the one error the code must raise.
The vectors were made once by generate.py; this file never regenerates them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import monocypher
import nacl.bindings
import pytest

from archive import constants as C
from archive import crypto
from archive.api import passphrase_bytes
from archive.bundle import BundleReader, encode_manifest, write_bundle
from archive.bundle import _parse_manifest as parse_manifest
from archive.chunks import decrypt_file_chunks, encrypt_chunk, padded_chunks
from archive.custody import chain_order, check_event, parse_event, sign_event
from archive.encoding import (canonical, group_fingerprint, padme, parse_canonical, parse_time,
                              read_u16, u32)
from archive import disclosure, merkle, sshsig
from archive.custodylog import ProofTree, check_consistency, check_head, check_inclusion, sign_head
from archive.errors import (FormatError, IntegrityError, KeyAccessError, RollbackError, SignatureError,
                            TrustError, UsageError)
from archive.sealedrows import MetaSealer
from archive.keys import (SecretKeys, card_from_dict, decode_secret_key_file, encode_secret_key_file,
                          fingerprint, parse_card, parse_revocation, revocation_certificate, sign_card)
from archive.peers import check_revocation as check_any_revocation
from archive.peers import peer_revocation
from archive.records import (Draft, build_statement, check_field_value, decode_payload,
                             envelope_payload, field_digest, open_envelope, record_id, seal_envelope,
                             stanza_count, verify_statement)
from archive.store import Store, pack_id_for
from archive.textinput import parse_text

from .generate import pattern, unsafe_deterministic_hidden_seal, unsafe_deterministic_seal

HERE = Path(__file__).resolve().parent
FILES = sorted(HERE.glob("*.json"))
ERRORS = {"format": FormatError, "integrity": IntegrityError, "signature": SignatureError,
          "trust": TrustError, "key": KeyAccessError, "usage": UsageError, "rollback": RollbackError}


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
    assert opened.ssh_signature == b(out["sshsig"])
    assert envelope_payload(json.loads(b(out["statement"])), b(out["signature"]), out["disclosures"],
                            out["chunks"], ssh_signature=b(out["sshsig"])) == payload
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


# --- §17-20 bundles, custody events, revocations --------------------------------------------------

def check_hidden_seal(case, inp, out):
    secret = b(inp["recipient_box_secret"])
    if case["expect"] != "ok":
        # A stanza that does not open is "not addressed to us": [trust] once no slot opens.
        assert crypto.hidden_open(secret, b(inp["stanza"])) is None
        return
    if "elligator_seed" not in inp:
        assert crypto.hidden_open(secret, b(inp["stanza"])) == b(out["message"])
        return
    seed, message = b(inp["elligator_seed"]), b(inp["message"])
    representative, esk = monocypher.elligator_key_pair(seed)
    assert representative == b(out["representative"]) and esk == b(out["ephemeral_secret"])
    epk = monocypher.elligator_map(representative)
    assert epk == b(out["ephemeral_public"])
    assert crypto.box_public_key(esk) == b(out["x25519_base_of_esk"]) != epk
    pk = crypto.box_public_key(secret)
    assert pk == b(out["recipient_box_key"])
    # epk's low-order part vanishes under the clamped scalars: both sides derive one secret.
    assert nacl.bindings.crypto_scalarmult(esk, pk) == nacl.bindings.crypto_scalarmult(secret, epk)
    nonce = hashlib.blake2b(epk + pk, digest_size=C.XCHACHA_NONCE_BYTES).digest()
    assert nonce == b(out["nonce"])
    stanza = b(out["stanza"])
    assert len(stanza) == C.BUNDLE_STANZA_BYTES == 80
    assert stanza == representative + nacl.bindings.crypto_box(message, nonce, pk, esk)
    assert unsafe_deterministic_hidden_seal(pk, message, seed) == stanza
    assert crypto.hidden_open(secret, stanza) == message
    fresh = crypto.hidden_seal_to(pk, message)   # the archive's own sealing: random, same layout
    assert len(fresh) == len(stanza) and fresh != stanza and crypto.hidden_open(secret, fresh) == message


def _identity(inp) -> SecretKeys:
    """Keys for signing from a vector's identity inputs (the two unused secrets are zeros)."""
    seed, box = b(inp["sign_seed"]), b(inp["box_secret"])
    return SecretKeys(seed, box, bytes(32), bytes(32),
                      sign_card(seed, box, name=inp["name"], created=inp["created"]))


def check_custody_event(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            parse_event(b(inp["event"]))
        return
    keys = _identity(inp)
    event = sign_event(keys, event=inp["event"], envelope=b(inp["envelope"]), record=inp["record"],
                       peer=inp["peer"], bundle=inp["bundle"], time=inp["time"])
    assert canonical({k: v for k, v in event.signed.items() if k != "signature"}) == b(out["unsigned"])
    assert crypto.sign(keys.sign_seed, purpose=C.CUSTODY, message=b(out["unsigned"])).hex() == out["signature"]
    assert event.raw == b(out["event"])
    assert event.event_id == b(out["event_id"]) == hashlib.sha256(C.CUSTODY + b(out["event"])).digest()
    parsed = parse_event(b(out["event"]))
    assert parsed == event
    assert parsed.actor == out["actor_fingerprint"] == keys.card.fingerprint


def check_custody_order(case, inp, out):
    events = [parse_event(b(e)) for e in inp["events"]]
    assert [e.event_id.hex() for e in chain_order(events)] == out["order"]
    assert [e.event_id.hex() for e in chain_order(events[::-1])] == out["order"]


def check_peer_revocation(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            check_any_revocation(parse_canonical(b(inp["revocation"])))
        return
    if "sign_seed" in inp:
        keys = _identity(inp)
        body = {"type": "testimony/peer-revocation", "version": 1, "revoker": keys.card.to_dict(),
                "revoked": inp["revoked"], "created": inp["revocation_created"]}
        assert canonical(body) == b(out["unsigned"])
        assert crypto.sign(keys.sign_seed, purpose=C.REVOCATION, message=canonical(body)).hex() == out["signature"]
        made = peer_revocation(keys, SimpleNamespace(fingerprint=inp["revoked"]),
                               created=inp["revocation_created"])
        assert canonical(made.signed) == b(out["revocation"])
        assert crypto.labelled_hash(C.REVOCATION, b(out["revocation"])) == b(out["row_id"])
    rev = check_any_revocation(parse_canonical(b(out["revocation"])))
    assert (rev.revoked, rev.revoker) == (out["revoked"], out["revoker"])
    assert rev.is_self == (out["revoked"] == out["revoker"])
    if "created" in out:
        assert rev.created == out["created"]


def check_bundle_manifest(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            parse_manifest(b(inp["manifest"]))
        return
    objects = [(b(o["id"]), o["kind"], o["size"]) for o in inp["objects"]]
    raw = encode_manifest(bundle_id=inp["bundle_id"], sender=card_from_dict(inp["sender"]),
                          recipients=inp["recipients"], created=inp["created"], sequence=inp["sequence"],
                          objects=objects, acks=inp["acks"], custody=inp["custody"],
                          revocations=inp["revocations"], heads=inp["heads"], consistency=inp["consistency"])
    assert raw == b(out["manifest"])
    m = parse_manifest(raw)
    assert (m.bundle_id, m.created, m.sequence) == (inp["bundle_id"], inp["created"], inp["sequence"])
    assert m.sender == card_from_dict(inp["sender"])
    assert list(m.recipients) == sorted(inp["recipients"]) and list(m.acks) == sorted(inp["acks"])
    assert list(m.objects) == objects
    assert list(m.custody) == inp["custody"] and list(m.revocations) == inp["revocations"]
    assert list(m.heads) == inp["heads"] and m.consistency == inp["consistency"]
    signature = crypto.sign(b(inp["sign_seed"]), purpose=C.BUNDLE, message=raw)
    assert signature == b(out["signature"])
    crypto.verify(m.sender.sign_key, purpose=C.BUNDLE, message=raw, signature=signature)
    # What the manifest carries checks out on its own (format.md §17.4 step 11): every event,
    # its proof under a head given alongside, the sender's one head against the heads it had
    # shown before, and every revocation.
    heads = {h.head_id: h for h in map(check_head, m.heads)}
    (own,) = [h for h in heads.values() if h.log == m.sender.fingerprint]
    for item in m.custody:
        event = check_event(item["event"])
        assert check_inclusion(event, item["inclusion"], heads) == own
    check_consistency(own, [(check_head(s), {}) for s in inp["shown_heads"]], m.consistency)
    for revocation in m.revocations:
        check_any_revocation(revocation)


def _edited_bundle(inp) -> tuple[bytes, dict[str, Any]]:
    """A negative bundle case is its base vector's bytes with one edit applied."""
    base = load(HERE / f"{inp['base']}.json")["outputs"]
    data = bytearray(b(base["bundle"]))
    edit = inp["edit"]
    if "xor" in edit:
        at, mask = edit["xor"]
        data[at] ^= mask
    if "truncate" in edit:
        del data[edit["truncate"]:]
    if "append" in edit:
        data += b(edit["append"])
    if "append_copy" in edit:
        start, end = edit["append_copy"]
        data += data[start:end]
    assert set(edit) <= {"xor", "truncate", "append", "append_copy"}
    return bytes(data), base


def _pinned_lookup(pinned):
    """What PeerBook.sign_key_for does, over the vector's list of pinned cards."""
    cards = {}
    for entry in pinned:
        card = card_from_dict(entry["card"])
        cards[card.fingerprint] = (card, entry["revoked"])

    def sign_key_for(fingerprint: str) -> bytes:
        if fingerprint not in cards:
            raise TrustError("the bundle's sender is not a pinned peer")
        card, revoked = cards[fingerprint]
        if revoked is not None:
            raise TrustError(f"the bundle's sender was revoked on {revoked}")
        return card.sign_key
    return sign_key_for


def _read_bundle(data: bytes, inp):
    reader = BundleReader(io.BytesIO(data), len(data), b(inp["box_secret"]), _pinned_lookup(inp["pinned"]))
    return reader.manifest, list(reader.objects())


def check_bundle(case, inp, out):
    if "base" in inp:
        data, base = _edited_bundle(inp)
    else:
        data, base = b(out["bundle"]), out
    if case["expect"] != "ok":
        with raises(case):
            _read_bundle(data, inp)
        return
    manifest, objects = _read_bundle(data, inp)
    assert manifest.raw == b(base["manifest"])
    assert [{"id": i.hex(), "kind": k, "size": len(d)} for i, k, d in objects] == base["objects"]
    assert all(hashlib.sha256(d).digest() == i for i, _, d in objects)
    if "base" in inp:
        return
    # Layer by layer: 4 stanzas ‖ header ‖ messages of 64 KiB + 17.
    prefix = C.BUNDLE_STANZAS * C.BUNDLE_STANZA_BYTES + C.SECRETSTREAM_HEADER_BYTES
    sealed = C.BUNDLE_MESSAGE_BYTES + C.SECRETSTREAM_ABYTES
    assert (prefix, sealed) == (344, 65553)
    frames = b(out["plaintext"])
    assert out["messages"] == max(1, -(-len(frames) // C.BUNDLE_MESSAGE_BYTES))
    assert len(data) == out["size"] == prefix + out["messages"] * sealed
    secret = b(inp["box_secret"])
    opened = [crypto.hidden_open(secret, data[i * 80:(i + 1) * 80]) for i in range(4)]
    assert [i for i, k in enumerate(opened) if k is not None] == [out["own_slot"]]
    key = opened[out["own_slot"]]
    assert key == b(out["bundle_key"])
    ad = hashlib.sha256(data[:prefix]).digest()
    assert ad == b(out["first_message_ad"])
    state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
    nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, data[prefix - 24:prefix], key)
    plain = b""
    for n in range(out["messages"]):
        at = prefix + n * sealed
        message, tag = nacl.bindings.crypto_secretstream_xchacha20poly1305_pull(
            state, data[at:at + sealed], ad if n == 0 else None)
        last = n == out["messages"] - 1
        assert tag == (nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL if last
                       else nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        plain += message
    assert plain == frames + bytes(len(plain) - len(frames))
    sender = card_from_dict(inp["pinned"][0]["card"])
    assert frames == (bytes([C.FRAME_SIGNATURE]) + u32(96) + bytes.fromhex(sender.fingerprint)
                      + b(out["signature"]) + bytes([C.FRAME_MANIFEST]) + u32(len(manifest.raw))
                      + manifest.raw
                      + b"".join(bytes([C.FRAME_OBJECT]) + u32(32 + len(d)) + i + d for i, _, d in objects)
                      + bytes([C.FRAME_END]) + u32(0))
    assert (C.FRAME_SIGNATURE, C.FRAME_MANIFEST, C.FRAME_OBJECT, C.FRAME_END) == (1, 2, 3, 4)
    crypto.verify(sender.sign_key, purpose=C.BUNDLE, message=manifest.raw, signature=b(out["signature"]))
    assert manifest.raw == b(load(HERE / f"{inp['manifest_vector']}.json")["outputs"]["manifest"])
    # The archive's writer (fresh keys, slot order and header) makes a bundle of the same
    # size that reads back to the same manifest and objects.
    buf = io.BytesIO()
    size = write_bundle(buf, recipient_box_keys=[b(k) for k in inp["recipient_box_keys"]],
                        signing_seed=b(inp["sender_sign_seed"]), signer_fingerprint=sender.fingerprint,
                        manifest=manifest.raw, objects=iter([(i, d) for i, _, d in objects]))
    fresh = buf.getvalue()
    assert size == len(fresh) == len(data) and fresh[:prefix] != data[:prefix]
    assert _read_bundle(fresh, inp) == (manifest, objects)


# --- SSHSIG, the custody log, disclosure packages ------------------------------------------------

def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def check_sshsig(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            key, sig = sshsig.dearmor(inp["armored"])
            sshsig.verify(key, b(inp["message"]), sig)
        return
    seed, message = b(inp["sign_seed"]), b(inp["message"])
    pk = crypto.signing_public_key(seed)
    assert pk == b(out["sign_key"])
    # PROTOCOL.sshsig, rebuilt from its text rather than from archive/sshsig.py.
    key_blob = _ssh_string(b"ssh-ed25519") + _ssh_string(pk)
    assert key_blob == b(out["public_key_blob"])
    assert hashlib.sha512(message).digest() == b(out["message_sha512"])
    signed_data = (b"SSHSIG" + _ssh_string(inp["namespace"].encode()) + _ssh_string(b"")
                   + _ssh_string(inp["hash"].encode()) + _ssh_string(hashlib.sha512(message).digest()))
    assert signed_data == b(out["signed_data"]) == sshsig.signed_data(message)
    signature = nacl.bindings.crypto_sign(signed_data, nacl.bindings.crypto_sign_seed_keypair(seed)[1])[:64]
    assert signature == b(out["signature"]) == sshsig.sign(seed, message)
    nacl.bindings.crypto_sign_open(signature + signed_data, pk)
    blob = (b"SSHSIG" + (1).to_bytes(4, "big") + _ssh_string(key_blob) + _ssh_string(b"testimony")
            + _ssh_string(b"") + _ssh_string(b"sha512") + _ssh_string(_ssh_string(b"ssh-ed25519")
                                                                       + _ssh_string(signature)))
    lines = out["armored"].splitlines()
    assert lines[0] == "-----BEGIN SSH SIGNATURE-----" and lines[-1] == "-----END SSH SIGNATURE-----"
    assert all(len(line) == 70 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 70
    assert out["armored"].endswith("\n") and base64.b64decode("".join(lines[1:-1])) == blob
    assert sshsig.armor(pk, signature) == out["armored"]
    assert sshsig.dearmor(out["armored"]) == (pk, signature)
    sshsig.verify(pk, message, signature)
    assert out["allowed_signers"] == (f'{inp["principal"]} namespaces="testimony" ssh-ed25519 '
                                      f"{base64.b64encode(key_blob).decode()}\n")
    assert sshsig.allowed_signers_line(inp["principal"], pk) == out["allowed_signers"]


def check_tree_head(case, inp, out):
    if case["expect"] != "ok":
        with raises(case):
            check_head(parse_canonical(b(inp["head"])))
        return
    keys = _identity(inp)
    head = sign_head(keys, size=inp["size"], root=b(inp["root"]), time=inp["time"])
    assert canonical({k: v for k, v in head.signed.items() if k != "signature"}) == b(out["unsigned"])
    assert crypto.sign(keys.sign_seed, purpose=C.TREE_HEAD, message=b(out["unsigned"])).hex() == out["signature"]
    assert canonical(head.signed) == b(out["head"])
    assert head.head_id == b(out["head_id"]) == hashlib.sha256(C.TREE_HEAD + b(out["head"])).digest()
    parsed = check_head(parse_canonical(b(out["head"])))
    assert parsed == head and parsed.log == out["log_fingerprint"] == keys.card.fingerprint
    if inp["size"] == 0:
        assert b(inp["root"]) == hashlib.sha256(b"").digest()


# RFC 9162 §2.1, written from the RFC's recursive definitions (independent of archive/merkle.py).
def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return _path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, leaves[:k], whole) + [_mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_mth(leaves[:k])]


def check_merkle_tree(case, inp, out):
    data = [b(x) for x in inp["leaves"]]
    leaves = [merkle.leaf_hash(d) for d in data]
    assert [x.hex() for x in leaves] == out["leaf_hashes"]
    assert leaves == [hashlib.sha256(b"\x00" + d).digest() for d in data]
    for size, root in out["roots"]:
        assert merkle.root(leaves[:size]).hex() == root == _mth(data[:size]).hex()
        assert ProofTree(leaves[:size]).root.hex() == root
    for size, index, proof in out["inclusion"]:
        path = [b(p) for p in proof]
        assert merkle.inclusion_proof(leaves[:size], index) == path == _path(index, data[:size])
        assert ProofTree(leaves[:size]).path(index) == path
        root = b(dict(out["roots"])[size])
        assert merkle.verify_inclusion(leaf_hash=leaves[index], index=index, size=size, proof=path, root=root)
        if size > 1:   # the same path read for the neighbouring leaf does not reach the root
            assert not merkle.verify_inclusion(leaf_hash=leaves[index], index=index ^ 1 if index ^ 1 < size
                                               else index - 1, size=size, proof=path, root=root)
    assert len(out["inclusion"]) == sum(range(1, len(data) + 1))
    roots = {size: b(root) for size, root in out["roots"]}
    for m, n, proof in out["consistency"]:
        path = [b(p) for p in proof]
        assert merkle.consistency_proof(leaves[:n], m) == path == _subproof(m, data[:n], True)
        assert merkle.verify_consistency(old_size=m, new_size=n, old_root=roots[m], new_root=roots[n],
                                         proof=path)
        if m < n:
            assert not merkle.verify_consistency(old_size=m, new_size=n, old_root=roots[n], new_root=roots[n],
                                                 proof=path)
    with pytest.raises(ValueError):     # none from size 0 (RFC 9162 §2.1.4)
        merkle.consistency_proof(leaves, 0)


def check_custody_inclusion(case, inp, out):
    event = parse_event(b(inp["event"]))
    heads = {h.head_id: h for h in map(check_head, inp["heads"])}
    if case["expect"] != "ok":
        with raises(case):
            check_inclusion(event, inp["inclusion"], heads)
        return
    head = check_inclusion(event, inp["inclusion"], heads)
    assert head.head_id == b(out["head_id"]) and head.root == b(out["root"]) and head.size == out["size"]
    assert event.leaf_hash == b(out["leaf_hash"]) == hashlib.sha256(b"\x00" + b(inp["event"])).digest()
    assert merkle.verify_inclusion(leaf_hash=event.leaf_hash, index=inp["inclusion"]["index"], size=head.size,
                                   proof=[b(p) for p in inp["inclusion"]["proof"]], root=head.root)


def check_log_consistency(case, inp, out):
    new = check_head(inp["new"])
    known = [(check_head(k["head"]), k["consistency"]) for k in inp["known"]]
    if case["expect"] != "ok":
        with raises(case):
            check_consistency(new, known, inp["consistency"])
        return
    check_consistency(new, known, inp["consistency"])


def check_disclosure_choice(case, inp, out):
    opened = decode_payload(b(inp["payload"]))
    if case["expect"] != "ok":
        with raises(case):
            disclosure.choose(opened, inp["reveal"])
        return
    chosen = disclosure.choose(opened, inp["reveal"])
    assert [list(d) for d in chosen] == out["revealed"]
    for salt, name, value in chosen:
        digest = field_digest(b(salt), name, value).hex()
        assert digest in opened.statement["attachments" if name == "attachment" else "fields"]
    assert not any(name == "witness" and value["consent"] == "internal" for _, name, value in chosen)


def _write_files(folder: Path, files: dict[str, str | None]) -> None:
    for name, data in files.items():
        if data is None:
            continue
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b(data))


def _package_files(inp, out) -> dict[str, str | None]:
    if "base" not in inp:
        return out["files"]
    files = dict(load(HERE / f"{inp['base']}.json")["outputs"]["files"])
    files.update(inp["edit"])
    return files


def check_disclosure(case, inp, out, tmp_path):
    folder = tmp_path / "package"
    folder.mkdir()
    files = _package_files(inp, out)
    _write_files(folder, files)
    report = disclosure.verify_package(folder)
    if case["expect"] != "ok":
        assert not report.ok
        *passed, failed = report.checks
        assert all(c.ok for c in passed) and not failed.ok
        assert failed.name == out["failed_check"], (failed.name, failed.detail)
        return
    assert report.ok, report.verdict()
    assert [c.name for c in report.checks] == out["checks"]
    # The writer makes exactly these files from the envelope, the reveal list and the custody.
    envelope = b(load(HERE / f"{inp['envelope_vector']}.json")["outputs"]["envelope"])
    opened = open_envelope(envelope, b(inp["box_secret"]))
    author = card_from_dict(inp["author_card"])
    written = tmp_path / "again"
    names = disclosure.write_package(written, opened=opened, author=author,
                                     revealed=disclosure.choose(opened, inp["reveal"]),
                                     custody=inp["custody"], created=inp["created"],
                                     read_file=lambda value: [b(inp["attachment_file"])])
    assert sorted(names) == sorted(out["files"])
    assert {n: (written / n).read_bytes().hex() for n in names} == out["files"]
    got = {n: b(v) for n, v in out["files"].items()}
    assert got[disclosure.DISCLOSURE].decode() == out["disclosure_json"]
    assert got[disclosure.SUMS].decode() == out["sha256sums"]
    assert got[disclosure.SUMS] == "".join(f"{hashlib.sha256(v).hexdigest()}  {n}\n" for n, v in
                                           sorted(got.items()) if n != disclosure.SUMS).encode()
    dj = parse_canonical(got[disclosure.DISCLOSURE])
    assert dj == {"type": "testimony/disclosure", "version": 1, "record": opened.record_id,
                  "signature": opened.signature.hex(), "created": inp["created"],
                  "revealed": [list(d) for d in disclosure.choose(opened, inp["reveal"])],
                  "files": [{"path": f"files/{v['name'].replace('/', '_')}", "sha256": v["sha256"],
                             "size": v["size"]} for _, n, v in opened.disclosures if n == "attachment"]}
    assert got[disclosure.STATEMENT] == opened.statement_bytes
    assert got[disclosure.AUTHOR_CARD] == author.to_bytes() + b"\n"
    assert parse_canonical(got[disclosure.CUSTODY]) == inp["custody"]


CHECKERS = {
    "canonical_json": check_canonical_json, "time": check_time, "padme": check_padme,
    "stanza_count": check_stanza_count, "fingerprint": check_fingerprint,
    "identity_card": check_identity_card, "revocation": check_revocation,
    "secret_key_file": check_secret_key_file, "field_digest": check_field_digest,
    "statement": check_statement, "envelope": check_envelope, "chunk": check_chunk,
    "chunked_file": check_chunked_file, "pack": check_pack, "index": check_index,
    "text_header": check_text_header, "hidden_seal": check_hidden_seal,
    "custody_event": check_custody_event, "custody_order": check_custody_order,
    "peer_revocation": check_peer_revocation, "bundle_manifest": check_bundle_manifest,
    "bundle": check_bundle, "sshsig": check_sshsig, "tree_head": check_tree_head,
    "merkle_tree": check_merkle_tree, "custody_inclusion": check_custody_inclusion,
    "log_consistency": check_log_consistency, "disclosure_choice": check_disclosure_choice,
    "disclosure": check_disclosure,
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
    if checker in (check_pack, check_disclosure):
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


# --- ssh-keygen agrees (OpenSSH >= 8.1; a missing ssh-keygen is a failure, not a skip) -----------

def _ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        pytest.fail("ssh-keygen is not installed: the SSHSIG vectors must be checked against OpenSSH "
                    "(install openssh-client, version 8.1 or later)")
    return path


def _ssh_verify(folder: Path, allowed_signers: str, armored: str, message: bytes,
                principal: str = "author") -> subprocess.CompletedProcess:
    (folder / "allowed_signers").write_text(allowed_signers)
    (folder / "message.sig").write_text(armored)
    return subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", str(folder / "allowed_signers"),
                           "-I", principal, "-n", "testimony", "-s", str(folder / "message.sig")],
                          input=message, capture_output=True, timeout=60)


SSHSIG_FILES = [p for p in FILES if load(p)["kind"] == "sshsig"]


@pytest.mark.parametrize("path", SSHSIG_FILES, ids=[p.stem for p in SSHSIG_FILES])
def test_ssh_keygen_agrees_with_sshsig_vector(path: Path, tmp_path: Path) -> None:
    case = load(path)
    inp = case["inputs"]
    ok = load(HERE / "sshsig.json")
    done = _ssh_verify(tmp_path, ok["outputs"]["allowed_signers"],
                       inp.get("armored") or case["outputs"]["armored"], b(inp["message"]))
    if case["expect"] == "ok":
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().startswith('Good "testimony" signature for author with ED25519 key')
    elif case["expect"] == "signature" or "namespace" in case["name"]:
        assert done.returncode != 0, done.stdout    # OpenSSH refuses what we refuse
    # sshsig-hash-sha256 is a valid SSHSIG that OpenSSH accepts; testimony requires sha512.


def test_ssh_keygen_verifies_the_disclosure_package(tmp_path: Path) -> None:
    files = {n: b(v) for n, v in load(HERE / "disclosure-package.json")["outputs"]["files"].items()}
    done = _ssh_verify(tmp_path, files["allowed_signers"].decode(), files["statement.json.sig"].decode(),
                       files["statement.json"])
    assert done.returncode == 0, done.stderr
    done = _ssh_verify(tmp_path, files["allowed_signers"].decode(), files["statement.json.sig"].decode(),
                       files["statement.json"] + b"\n")
    assert done.returncode != 0
