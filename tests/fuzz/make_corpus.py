"""Write the seed corpus (tests/fuzz/corpus/<target>/) and the valid disclosure package
the disclosure harness varies (tests/fuzz/package/), with the library's own functions.

    .venv/bin/python -m tests.fuzz.make_corpus

Every seed is a small VALID input of its harness (the framings are in common.py): one
record with an attachment and one without, sealed as envelopes; a bundle carrying the
first; the cards and a revocation certificate; a key file and its payload; every file
of a package disclosing the first record, with a full custody chain (recorded,
exported, imported, disclosed). Only the fixed test identities of common.py are used.

Deterministic where the library allows: cards, statements, signatures, the key file and
disclosure.json come out byte for byte the same on every run. Sealed boxes draw a fresh
ephemeral key inside libsodium, so the envelopes and bundles differ between runs, and
with them the envelope id in the custody events (custody.json, SHA256SUMS). Rerunning
rewrites the corpus and the package together, so they always agree.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from archive import constants as C
from archive import crypto, merkle, sshsig
from archive.bundle import encode_manifest, write_bundle
from archive.chunks import decrypt_file_chunks, encrypt_chunk, padded_chunks
from archive.custody import sign_event
from archive.custodylog import inclusion_dict, sign_head
from archive.disclosure import choose, verify_package, write_package
from archive.encoding import read_u32, u32
from archive.keys import SecretKeys, encode_secret_key_file, revocation_certificate
from archive.records import (Draft, OpenedRecord, build_statement, envelope_payload, open_envelope,
                             sign_statement)
from tests.fuzz import common
from tests.fuzz.common import ARCHIVE, FIELD

T_EXPORT = "2024-05-03T10:00:00Z"
T_IMPORT = "2024-05-04T08:00:00Z"
T_DISCLOSE = "2024-05-06T12:00:00Z"
NOTICE = b"Fictional sample: the clinic door said closed to the wounded.\n"


class Record:
    """A record FIELD made and sealed to itself and ARCHIVE, opened as ARCHIVE opens it."""

    def __init__(self, tag: str, fields: dict, files: dict[str, bytes], kind: str = "testimony") -> None:
        self.objects: dict[bytes, bytes] = {}
        chunk_refs, attachments = {}, []
        keyer = crypto.ChunkKeyer(FIELD.convergence_secret)
        for name, data in files.items():
            sha = crypto.sha256(data).hex()
            attachments.append({"name": name, "media_type": "text/plain", "size": len(data), "sha256": sha})
            chunks = [encrypt_chunk(keyer, piece) for piece in padded_chunks(data)]
            chunk_refs[sha] = [c.ref() for c in chunks]
            self.objects.update({c.object_id: c.obj for c in chunks})
        draft = Draft(kind, fields, tuple(attachments))
        count = len(fields) + len(attachments)
        statement, disclosures = build_statement(
            FIELD.card, draft, created=common.CREATED, nonce=common.test_secret(tag, "nonce")[:16],
            salts=[common.test_secret(tag, "salt", str(i))[:C.FIELD_SALT_BYTES] for i in range(count)])
        data, signature = sign_statement(FIELD, statement)
        self.payload = envelope_payload(statement, signature, disclosures, chunk_refs,
                                        ssh_signature=sshsig.sign(FIELD.sign_seed, data))
        self.envelope = common.seal_payload(self.payload)
        self.envelope_id = crypto.sha256(self.envelope)
        self.opened: OpenedRecord = open_envelope(self.envelope, ARCHIVE.box_secret)

    @property
    def body(self) -> bytes:
        return self.payload[4:4 + read_u32(self.payload, 0)]


class Log:
    """One identity's custody log: its events, a signed head, inclusion proofs."""

    def __init__(self, keys: SecretKeys, events: list, time: str) -> None:
        self.events = events
        self.leaves = [e.leaf_hash for e in events]
        self.head = sign_head(keys, size=len(events), root=merkle.root(self.leaves), time=time)

    def entries(self) -> list[dict]:
        return [{"event": e.signed,
                 "inclusion": inclusion_dict(self.head, i, merkle.inclusion_proof(self.leaves, i))}
                for i, e in enumerate(self.events)]


def write(target: str, seeds: dict[str, bytes]) -> None:
    folder = common.CORPUS_DIR / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def main() -> None:
    full = Record("full", {"title": "Refused at the clinic", "body": "The guard turned us away.\n",
                           "language": "en", "tags": ["clinic", "refusal"],
                           "witness": {"pseudonym": "W-17", "consent": "legal"},
                           "location": "Fictional town"}, {"clinic notice.txt": NOTICE})
    plain = Record("plain", {"title": "Second visit"}, {})
    rid, bundle_id = full.opened.record_id, common.test_secret("bundle id").hex()
    field_fp, archive_fp = FIELD.card.fingerprint, ARCHIVE.card.fingerprint

    event = dict(envelope=full.envelope_id, record=rid)
    field_log = Log(FIELD, [
        sign_event(FIELD, event="recorded", peer=None, bundle=None, time=common.CREATED, **event),
        sign_event(FIELD, event="exported", peer=archive_fp, bundle=bundle_id, time=T_EXPORT, **event),
    ], T_EXPORT)
    archive_log = Log(ARCHIVE, [
        sign_event(ARCHIVE, event="imported", peer=field_fp, bundle=bundle_id, time=T_IMPORT, **event),
        sign_event(ARCHIVE, event="disclosed", peer=None, bundle=None, time=T_DISCLOSE, **event),
    ], T_DISCLOSE)

    # --- bundle: FIELD → ARCHIVE, carrying `full` (envelope and its chunk) -----------------------
    objects = [(full.envelope_id, "envelope", full.envelope)] + [
        (oid, "chunk", obj) for oid, obj in full.objects.items()]
    manifest = encode_manifest(
        bundle_id=bundle_id, sender=FIELD.card, recipients=[archive_fp], created=T_EXPORT,
        sequence={archive_fp: 1}, objects=[(i, k, len(b)) for i, k, b in objects], acks=[],
        custody=field_log.entries(), revocations=[], heads=[field_log.head.signed], consistency={})
    after = b"".join(common.frame(C.FRAME_OBJECT, i + b) for i, _, b in objects) \
        + common.frame(C.FRAME_END, b"")
    acks_only = encode_manifest(
        bundle_id=common.test_secret("acks bundle id").hex(), sender=FIELD.card,
        recipients=[archive_fp], created=T_IMPORT, sequence={archive_fp: 2}, objects=[],
        acks=[bundle_id], custody=[], revocations=[], heads=[field_log.head.signed],
        consistency={"1": [field_log.leaves[1].hex()]})
    out = io.BytesIO()
    write_bundle(out, recipient_box_keys=[ARCHIVE.card.box_key], signing_seed=FIELD.sign_seed,
                 signer_fingerprint=field_fp, manifest=manifest,
                 objects=iter([(i, b) for i, _, b in objects]))
    frames = common.signed_frames(manifest) + after
    write("bundle", {
        "raw-bundle": bytes([common.BUNDLE_RAW]) + out.getvalue(),
        "plain-frames": bytes([common.BUNDLE_PLAIN]) + frames,
        "plain-frames-lenient": bytes([common.BUNDLE_PLAIN_LENIENT]) + frames,
        "signed-manifest": common.signed_bundle_input(manifest, after),
        "signed-manifest-lenient": common.signed_bundle_input(manifest, after, lenient=True),
        "signed-acks-only": common.signed_bundle_input(acks_only, common.frame(C.FRAME_END, b"")),
    })

    # --- envelope ------------------------------------------------------------------------------
    write("envelope", {
        "raw-full": bytes([common.ENVELOPE_RAW]) + full.envelope,
        "raw-plain": bytes([common.ENVELOPE_RAW]) + plain.envelope,
        "payload-full": bytes([common.ENVELOPE_PAYLOAD]) + full.payload,
        "body-full": bytes([common.ENVELOPE_BODY]) + full.body,
        "body-plain": bytes([common.ENVELOPE_BODY]) + plain.body,
    })

    # --- cards and revocation certificate --------------------------------------------------------
    write("card", {
        "card-file": FIELD.card.to_bytes() + b"\n",
        "card-bare": ARCHIVE.card.to_bytes(),
        "revocation-cert": revocation_certificate(FIELD.sign_seed, FIELD.card, created=T_DISCLOSE) + b"\n",
    })

    # --- secret key file ---------------------------------------------------------------------------
    key_file = encode_secret_key_file(FIELD, common.TEST_PASSPHRASE, opslimit=common.KEYFILE_OPSLIMIT,
                                      memlimit=common.KEYFILE_MEMLIMIT, salt=common.KEYFILE_SALT,
                                      nonce=common.KEYFILE_NONCE)
    ops, mem = C.KDF_PROFILES["moderate"]
    other_header = (C.SECRET_KEY_MAGIC + u32(ops) + u32(mem) + common.test_secret("other salt")[:C.SALT_BYTES]
                    + bytes(C.XCHACHA_NONCE_BYTES + 16 + 128))
    write("secret_key", {
        "key-file": bytes([common.KEYFILE_FILE]) + key_file,
        "key-payload": bytes([common.KEYFILE_PAYLOAD]) + common.keyfile_payload(FIELD),
        "header-moderate": bytes([common.KEYFILE_FILE]) + other_header,
    })

    # --- disclosure package: ARCHIVE discloses `full` -----------------------------------------------
    opened = full.opened
    custody = {"events": field_log.entries() + archive_log.entries(),
               "heads": [field_log.head.signed, archive_log.head.signed]}
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "package"
        write_package(built, opened=opened, author=FIELD.card,
                      revealed=choose(opened, ["title", "body", "tags", "witness", "attachments"]),
                      custody=custody, created=T_DISCLOSE,
                      read_file=lambda v: decrypt_file_chunks(opened.chunks[v["sha256"]], full.objects.__getitem__,
                                                              size=v["size"], sha256_hex=v["sha256"]))
        report = verify_package(built)
        if not report.ok:
            raise RuntimeError(f"the seed package does not verify: {report.verdict()}")
        if common.PACKAGE_DIR.exists():
            shutil.rmtree(common.PACKAGE_DIR)
        shutil.copytree(built, common.PACKAGE_DIR)
    paths = common.package_paths()
    write("disclosure", {
        f"file-{i:02d}-" + path.replace("/", "_").replace(" ", "_"):
            common.disclosure_input(paths, path, (common.PACKAGE_DIR / path).read_bytes())
        for i, path in enumerate(paths)})

    total = sum(p.stat().st_size for p in common.FUZZ_DIR.glob("corpus/**/*") if p.is_file())
    print(f"corpus: {total:,} bytes in {common.CORPUS_DIR}; package in {common.PACKAGE_DIR}")


if __name__ == "__main__":
    main()
