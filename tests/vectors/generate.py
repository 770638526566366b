"""Generate the test vectors in tests/vectors/*.json (docs/format.md §15).

Run once, by hand, when a format changes (spec, vectors and code change in the same commit):

    .venv/bin/python -m tests.vectors.generate           # rewrite every *.json
    .venv/bin/python -m tests.vectors.generate --check   # exit 1 if a file would change

Every input is derived from a fixed label, so the output is byte-for-byte reproducible:
even the envelopes' sealed-box stanzas, which the archive makes with fresh random
ephemeral keys, are made here with fixed ephemeral keys (`unsafe_deterministic_seal`,
the exact libsodium crypto_box_seal construction), and the bundles' hidden stanzas with
fixed Elligator seeds (`unsafe_deterministic_hidden_seal`). One exception: a whole
bundle cannot be made from fixed inputs (libsodium draws the secretstream header
itself), so `bundle-small` holds bytes the real writer produced once; this script keeps
those stored bytes for as long as they still decode to the expected manifest and
objects, and writes fresh ones only when they do not (format.md §15). The test run only
reads the files (tests/vectors/test_vectors.py); it never calls this script.

Each file is one case: {"kind", "name", "description", "expect", "inputs", "outputs"}.
Binary values are lowercase hex; `expect` is ok | format | integrity | signature | trust
| key (wrong passphrase) | usage (a request the library refuses).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import monocypher
import nacl.bindings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive import constants as C
from archive import crypto
from archive.api import passphrase_bytes
from archive.bundle import BundleReader, encode_manifest, write_bundle
from archive.chunks import encrypt_chunk, padded_chunks
from archive.encoding import canonical, group_fingerprint, padme, u16, u32
from archive.keys import (SecretKeys, encode_secret_key_file, revocation_certificate,
                          sign_card)
from archive import merkle
from archive.custody import CustodyEvent, sign_event
from archive.custodylog import TreeHead, inclusion_dict, sign_head
from archive import disclosure
from archive.errors import ArchiveError, TrustError
from archive.peers import Peer, peer_revocation
from archive import sshsig
from archive.records import (Draft, build_statement, decode_payload, envelope_payload, field_digest,
                             open_envelope, record_id)
from archive.store import pack_id_for
from archive.textinput import parse_text

HERE = Path(__file__).resolve().parent

CREATED = "2024-03-14T09:26:53Z"
CARD_CREATED = "2024-03-01T08:00:00Z"
NAME = "Riverside field team (fictional)"
# Not NFC on purpose: "e" + COMBINING ACUTE ACCENT. The key file holds the NFC form.
PASSPHRASE = "cafe\u0301 lantern orbit meadow"


def fixed(label: str, n: int = 32) -> bytes:
    """A fixed pseudo-random input: SHA-256 of a label, cut or repeated to n bytes."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"testimony test vector/{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


def h(data: bytes) -> str:
    return data.hex()


def pattern(size: int) -> bytes:
    """The content of the synthetic evidence files: byte i is i mod 251."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def unsafe_deterministic_seal(recipient_public: bytes, message: bytes, ephemeral_secret: bytes) -> bytes:
    """libsodium crypto_box_seal with a FIXED ephemeral key. Test vectors only, never real data.

    stanza = epk ‖ crypto_box(message, nonce = BLAKE2b-192(epk ‖ recipient_pk), recipient_pk, esk)
    """
    epk = nacl.bindings.crypto_scalarmult_base(ephemeral_secret)
    nonce = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        epk + recipient_public, digest_size=C.XCHACHA_NONCE_BYTES)
    return epk + nacl.bindings.crypto_box(message, nonce, recipient_public, ephemeral_secret)


# --- identities used throughout ------------------------------------------------------------

class Who:
    def __init__(self, label: str, name: str) -> None:
        self.seed = fixed(f"{label}/sign-seed")
        self.box_secret = fixed(f"{label}/box-secret")
        self.convergence_secret = fixed(f"{label}/convergence-secret")
        self.index_key = fixed(f"{label}/index-key")
        self.card = sign_card(self.seed, self.box_secret, name=name, created=CARD_CREATED)
        self.keys = SecretKeys(self.seed, self.box_secret, self.convergence_secret, self.index_key,
                               self.card)

    def identity_inputs(self) -> dict[str, Any]:
        return {"sign_seed": h(self.seed), "box_secret": h(self.box_secret),
                "name": self.card.name, "created": self.card.created}


AUTHOR = Who("author", NAME)
LAWYER = Who("lawyer", "Lawyer (fictional)")
STRANGER = Who("stranger", "Not a recipient (fictional)")

CASES: dict[str, dict[str, Any]] = {}


def case(file: str, kind: str, expect: str, description: str, inputs: dict[str, Any],
         outputs: dict[str, Any] | None = None) -> None:
    assert file not in CASES, file
    CASES[file] = {"kind": kind, "name": file, "description": description, "expect": expect,
                   "inputs": inputs, "outputs": outputs or {}}


# --- §1 canonical JSON and times --------------------------------------------------------------

def canonical_json() -> None:
    ok = {
        "key-order-utf16": ({"\ufb01": 1, "\U0001F600": 2, "a": 3, "": 4, "B": 5},
                            "keys sort by UTF-16 code units: U+1F600 (D83D DE00) before U+FB01, "
                            "although its code point is larger"),
        "string-escapes": (["\u0000\u0001\u001f", "\b\t\n\f\r", "\"\\", "/", "\u007f", "\u2028\u2029",
                            "é", "e\u0301"],
                           "only \" \\ and C0 controls are escaped (\\b \\t \\n \\f \\r short forms, "
                           "other controls as lowercase \\u00xx); '/', DEL, U+2028 and non-ASCII are "
                           "raw UTF-8; text is not normalised (é and e+U+0301 stay distinct)"),
        "integers": ([0, -1, 1, 9007199254740991, -9007199254740991],
                     "integers only, within ±(2^53-1), shortest decimal form"),
        "literals-nesting": ({"a": [True, False, None, {}, []], "b": {"c": {"d": "e"}}},
                             "no whitespace anywhere"),
    }
    for name, (value, why) in ok.items():
        case(f"canonical-json-{name}", "canonical_json", "ok", why, {"value": value},
             {"canonical": h(canonical(value))})
    bad = {
        "whitespace": (b'{"a": 1}', "whitespace between tokens"),
        "trailing-newline": (b'{"a":1}\n', "trailing bytes (a newline) after the value"),
        "unsorted-keys": (b'{"b":1,"a":2}', "keys not in UTF-16 order"),
        "codepoint-key-order": ('{"\ufb01":1,"\U0001F600":2}'.encode(),
                                "keys sorted by code point instead of UTF-16 code units"),
        "duplicate-keys": (b'{"a":1,"a":1}', "duplicate keys, even with equal values"),
        "float": (b'[1.0]', "a fraction: floats are not allowed"),
        "exponent": (b'[1e3]', "an exponent: floats are not allowed"),
        "negative-zero": (b'[-0]', "-0 (its canonical form would be 0)"),
        "leading-zero": (b'[01]', "a leading zero (not JSON)"),
        "too-large-integer": (b'[9007199254740992]', "2^53 is outside the interoperable range"),
        "too-small-integer": (b'[-9007199254740992]', "-2^53 is outside the interoperable range"),
        "nan": (b'[NaN]', "NaN is not JSON"),
        "needless-escape": (b'["\\u0041"]', "\\u0041 where the canonical form is A"),
        "escaped-solidus": (b'["\\/"]', "\\/ where the canonical form is /"),
        "uppercase-escape": (b'["\\u001F"]', "\\u001F where the canonical form is \\u001f"),
        "long-escape": (b'["\\u000a"]', "\\u000a where the canonical form is \\n"),
        "lone-surrogate": (b'["\\ud800"]', "a lone surrogate (not Unicode text)"),
        "invalid-utf8": (b'["\xff"]', "bytes that are not UTF-8"),
        "bom": (b'\xef\xbb\xbf{}', "a byte-order mark"),
        "raw-control": (b'["\x01"]', "an unescaped control character"),
    }
    for name, (data, why) in bad.items():
        case(f"canonical-json-reject-{name}", "canonical_json", "format",
             f"a reader MUST reject: {why}", {"bytes": h(data)})


def times() -> None:
    for slug, text, expect, why in [
        ("leap-day", "2024-02-29T23:59:59Z", "ok", "a leap day"),
        ("no-such-date", "2023-02-29T00:00:00Z", "format", "no such date"),
        ("second-60", "2024-01-01T00:00:60Z", "format", "leap seconds are not representable"),
        ("hour-24", "2024-01-01T24:00:00Z", "format", "hour 24"),
        ("space", "2024-01-01 00:00:00Z", "format", "a space instead of T"),
        ("offset", "2024-01-01T00:00:00+00:00", "format", "an offset instead of Z"),
        ("fraction", "2024-01-01T00:00:00.5Z", "format", "fractional seconds"),
        ("lowercase", "2024-01-01t00:00:00z", "format", "lowercase t and z"),
        ("arabic-indic-digits", "\u0662\u0660\u0662\u0664-01-01T00:00:00Z", "format",
         "non-ASCII digits"),
        ("year-0", "0000-01-01T00:00:00Z", "format", "year 0"),
    ]:
        case(f"time-{slug}", "time", expect, f"UTC time YYYY-MM-DDTHH:MM:SSZ: {why}", {"text": text})


# --- §3 Padmé and stanza counts -------------------------------------------------------------

def tables() -> None:
    lengths = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 100, 255, 256, 1000, 1023, 1024, 1025, 4095,
               65537, 1_000_000, 1_048_576, 1_048_577, 2_500_000, 10**9, 2**40 + 1]
    case("padme-table", "padme", "ok",
         "Padmé(L): E = floor(log2 L), S = floor(log2 E) + 1, mask = 2^(E-S) - 1, "
         "Padmé(L) = (L + mask) & ~mask; Padmé(0) = 0, Padmé(1) = 1",
         {}, {"table": [[n, padme(n)] for n in lengths]})
    case("stanza-count-table", "stanza_count", "ok",
         "stanzas n = max(4, distinct recipients rounded up to a multiple of 4), author included",
         {}, {"table": [[r, max(4, -(-r // 4) * 4)] for r in (1, 2, 3, 4, 5, 8, 9, 63, 64)]})
    case("stanza-count-too-many", "stanza_count", "usage",
         "65 distinct recipients exceed the 64 stanzas an envelope may have", {"recipients": 65})


# --- §4-5 identities ---------------------------------------------------------------------------

def identities() -> None:
    card = AUTHOR.card
    case("fingerprint", "fingerprint", "ok",
         "SHA-256('testimony/v1/fingerprint\\0' ‖ sign_key ‖ box_key); people read the first 32 "
         "hex digits, uppercase, in groups of 4",
         {"sign_key": h(card.sign_key), "box_key": h(card.box_key)},
         {"fingerprint": card.fingerprint, "short": group_fingerprint(card.fingerprint)})
    unsigned = canonical(card.unsigned_dict())
    case("identity-card", "identity_card", "ok",
         "an identity card from fixed seeds: Ed25519 self-signature over "
         "'testimony/v1/identity\\0' ‖ canonical(card without self_signature)",
         AUTHOR.identity_inputs(),
         {"sign_key": h(card.sign_key), "box_key": h(card.box_key), "unsigned": h(unsigned),
          "self_signature": h(card.self_signature), "card": h(card.to_bytes()),
          "file": h(card.to_bytes() + b"\n"), "fingerprint": card.fingerprint})

    def bad_card(name: str, expect: str, why: str, value: dict[str, Any] | None = None,
                 raw: bytes | None = None) -> None:
        data = raw if raw is not None else canonical(value)
        case(f"identity-card-{name}", "identity_card", expect, why, {"card": h(data)})

    d = card.to_dict()
    other = LAWYER.card
    bad_card("wrong-self-signature", "signature", "the self-signature of another card",
             {**d, "self_signature": h(other.self_signature)})
    bad_card("renamed", "signature", "the name changed after signing", {**d, "name": "Someone else"})
    bad_card("extra-field", "format", "an unknown field", {**d, "email": "x@example.org"})
    bad_card("missing-field", "format", "no created field", {k: v for k, v in d.items() if k != "created"})
    bad_card("version-2", "format", "an unknown version", {**d, "version": 2})
    bad_card("version-true", "format", "version true is not the integer 1", {**d, "version": True})
    bad_card("wrong-type", "format", "type is not testimony/identity", {**d, "type": "testimony/statement"})
    bad_card("uppercase-hex", "format", "a key in uppercase hex", {**d, "sign_key": d["sign_key"].upper()})
    bad_card("empty-name", "format", "an empty name", {**d, "name": ""})
    bad_card("two-newlines", "format", "more than one trailing newline",
             raw=card.to_bytes() + b"\n\n")
    bad_card("not-canonical", "format", "pretty-printed JSON",
             raw=json.dumps(d, indent=1, sort_keys=True).encode())

    cert = revocation_certificate(AUTHOR.seed, card, created=CREATED)
    body = {"type": C.REVOCATION_TYPE, "version": 1, "fingerprint": card.fingerprint,
            "sign_key": h(card.sign_key), "box_key": h(card.box_key), "created": CREATED}
    case("revocation", "revocation", "ok",
         "a revocation certificate: Ed25519 over 'testimony/v1/revocation\\0' ‖ canonical(body "
         "without signature); the file is the canonical certificate and one LF",
         {**AUTHOR.identity_inputs(), "revocation_created": CREATED},
         {"unsigned": h(canonical(body)), "certificate": h(cert), "file": h(cert + b"\n")})
    cert_d = json.loads(cert)
    case("revocation-wrong-fingerprint", "revocation", "format",
         "the fingerprint field does not match sign_key and box_key",
         {"certificate": h(canonical({**cert_d, "fingerprint": other.fingerprint}))})
    case("revocation-bad-signature", "revocation", "signature",
         "the created time changed after signing",
         {"certificate": h(canonical({**cert_d, "created": "2025-01-01T00:00:00Z"}))})
    case("revocation-signed-as-identity", "revocation", "signature",
         "signed with the identity label instead of the revocation label",
         {"certificate": h(canonical({**cert_d, "signature": h(crypto.sign(
             AUTHOR.seed, purpose=C.IDENTITY, message=canonical(body)))}))})


# --- §6 secret key file ---------------------------------------------------------------------------

def secret_key_file() -> None:
    ops, mem = C.KDF_PROFILES["interactive"]
    salt, nonce = fixed("keyfile/salt", C.SALT_BYTES), fixed("keyfile/nonce", C.XCHACHA_NONCE_BYTES)
    pw = passphrase_bytes(PASSPHRASE)
    assert pw != PASSPHRASE.encode() and unicodedata.is_normalized("NFC", pw.decode())
    blob = encode_secret_key_file(AUTHOR.keys, pw, opslimit=ops, memlimit=mem, salt=salt, nonce=nonce)
    header = C.SECRET_KEY_MAGIC + u32(ops) + u32(mem) + salt
    kdf_key = crypto.argon2id(pw, salt, opslimit=ops, memlimit=mem)
    payload = AUTHOR.seed + AUTHOR.box_secret + AUTHOR.convergence_secret + AUTHOR.index_key \
        + AUTHOR.card.to_bytes()
    inputs = {**AUTHOR.identity_inputs(), "convergence_secret": h(AUTHOR.convergence_secret),
              "index_key": h(AUTHOR.index_key), "passphrase": PASSPHRASE, "profile": "interactive",
              "opslimit": ops, "memlimit": mem, "salt": h(salt), "nonce": h(nonce)}
    case("secret-key-file", "secret_key_file", "ok",
         "identity.secret with the interactive profile and a fixed salt and nonce. The passphrase "
         "is given in NFD and is NFC-normalised then UTF-8-encoded before Argon2id",
         inputs,
         {"passphrase_bytes": h(pw), "header": h(header), "kdf_key": h(kdf_key),
          "payload": h(payload), "file": h(blob), "fingerprint": AUTHOR.card.fingerprint})

    def bad(name: str, expect: str, why: str, data: bytes, passphrase: str = PASSPHRASE) -> None:
        case(f"secret-key-file-{name}", "secret_key_file", expect, why,
             {"file": h(data), "passphrase": passphrase})

    at = len(C.SECRET_KEY_MAGIC)
    bad("wrong-passphrase", "key", "the wrong passphrase (one that is not NFC-equivalent)", blob,
        "cafe lantern orbit meadow")
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    bad("flipped-tag", "key", "the last byte (of the Poly1305 tag) flipped", bytes(flipped))
    salted = bytearray(blob)
    salted[at + 8] ^= 1
    bad("flipped-salt", "key", "a salt byte flipped (the header is the AAD, and the key differs)",
        bytes(salted))
    bad("opslimit-too-low", "format", "opslimit 1 (checked before deriving)",
        blob[:at] + u32(1) + blob[at + 4:])
    bad("opslimit-too-high", "format", "opslimit 9 (checked before deriving)",
        blob[:at] + u32(9) + blob[at + 4:])
    bad("memlimit-too-low", "format", "memlimit 32 MiB (checked before deriving)",
        blob[:at + 4] + u32(32 * 1024 * 1024) + blob[at + 8:])
    bad("memlimit-too-high", "format", "memlimit 4 GiB - 1 (checked before deriving: a hostile "
        "file must not make the reader allocate it)", blob[:at + 4] + u32(2**32 - 1) + blob[at + 8:])
    bad("wrong-magic", "format", "an unknown magic (version 2)",
        b"TESTIMONY-SECRET-2\n" + blob[at:])
    bad("truncated", "format", "shorter than header + nonce + tag + 128 bytes of keys",
        blob[:at + 8 + 16 + 24 + 16 + 127])


# --- §7 statements ----------------------------------------------------------------------------------

ATTACHMENT_FILE = pattern(1000)


def attachment_value(name: str = "clinic/notice.txt") -> dict[str, Any]:
    return {"name": name, "media_type": "text/plain", "size": len(ATTACHMENT_FILE),
            "sha256": hashlib.sha256(ATTACHMENT_FILE).hexdigest()}


TESTIMONY_FIELDS: dict[str, Any] = {
    "title": "Wounded man refused at the Riverside clinic",
    "body": "Медсестра сказала: «не принимаем».\nCafe\u0301 (NFD, kept as typed)\r\n",
    "language": "ru",
    "tags": ["hospital-refusal", "riverside"],
    "witness": {"pseudonym": "W-17", "consent": "legal"},
    "location": "Riverside district (fictional)",
}


def field_digests() -> None:
    for name, value in [*TESTIMONY_FIELDS.items(), ("attachment", attachment_value())]:
        salt = fixed(f"field-salt/{name}", C.FIELD_SALT_BYTES)
        case(f"field-digest-{name}", "field_digest", "ok",
             "SHA-256('testimony/v1/field\\0' ‖ 16-byte salt ‖ canonical([name, value]))",
             {"salt": h(salt), "name": name, "value": value},
             {"preimage": h(canonical([name, value])), "digest": h(field_digest(salt, name, value))})
    salt = fixed("field-salt/bad", C.FIELD_SALT_BYTES)
    for slug, name, value, why in [
        ("unknown-name", "author", "x", "a field name outside title, body, language, tags, witness, "
         "location, attachment"),
        ("witness-bad-consent", "witness", {"pseudonym": "W-1", "consent": "secret"},
         "consent is not internal, legal or public"),
        ("witness-extra-key", "witness", {"pseudonym": "W-1", "consent": "legal", "name": "x"},
         "witness has a key besides pseudonym and consent"),
        ("tags-not-strings", "tags", ["a", 1], "tags must be a list of strings"),
        ("title-not-string", "title", 7, "title must be a string"),
        ("attachment-uppercase-sha", "attachment",
         {**attachment_value(), "sha256": attachment_value()["sha256"].upper()},
         "an attachment's sha256 must be 64 lowercase hex digits"),
        ("attachment-negative-size", "attachment", {**attachment_value(), "size": -1},
         "an attachment's size must be a non-negative integer"),
        ("attachment-size-bool", "attachment", {**attachment_value(), "size": True},
         "an attachment's size must be an integer, not true"),
    ]:
        case(f"field-digest-reject-{slug}", "field_digest", "format", why,
             {"salt": h(salt), "name": name, "value": value})


def statement_inputs(fields: dict[str, Any], attachments: list[dict[str, Any]], *, kind: str = "testimony",
                     supersedes: tuple[str, ...] = (), label: str = "statement") -> dict[str, Any]:
    items = [*fields, *("attachment" for _ in attachments)]
    return {"sign_seed": h(AUTHOR.seed), "box_secret": h(AUTHOR.box_secret), "name": AUTHOR.card.name,
            "kind": kind, "fields": fields, "attachments": attachments,
            "supersedes": list(supersedes), "created": CREATED, "nonce": h(fixed(f"{label}/nonce", 16)),
            "salts": [h(fixed(f"{label}/salt/{i}", C.FIELD_SALT_BYTES)) for i in range(len(items))]}


def make_statement(inputs: dict[str, Any]) -> tuple[dict[str, Any], list[list[Any]], bytes, bytes]:
    draft = Draft(inputs["kind"], dict(inputs["fields"]), tuple(inputs["attachments"]),
                  tuple(inputs["supersedes"]))
    statement, disclosures = build_statement(
        AUTHOR.card, draft, created=inputs["created"], nonce=bytes.fromhex(inputs["nonce"]),
        salts=[bytes.fromhex(s) for s in inputs["salts"]])
    data = canonical(statement)
    return statement, disclosures, data, crypto.sign(AUTHOR.seed, purpose=C.STATEMENT, message=data)


def statements() -> None:
    testimony = statement_inputs(TESTIMONY_FIELDS, [attachment_value()])
    st, disc, data, sig = make_statement(testimony)
    case("statement-testimony", "statement", "ok",
         "a testimony with every field and one attachment; salts are given in the order fields "
         "(as listed) then attachments; digests and disclosures are sorted by digest",
         testimony, {"statement": h(data), "signature": h(sig), "record_id": record_id(data),
                     "disclosures": disc})
    evidence = statement_inputs({"title": "clinic/photos/door-1.jpg", "tags": ["riverside"]},
                                [attachment_value("clinic/photos/door-1.jpg")], kind="evidence",
                                supersedes=(record_id(data),), label="statement-evidence")
    st2, disc2, data2, sig2 = make_statement(evidence)
    case("statement-evidence", "statement", "ok",
         "an evidence record as `add` makes it (title = the file's name), superseding a record",
         evidence, {"statement": h(data2), "signature": h(sig2), "record_id": record_id(data2),
                    "disclosures": disc2})

    def bad(name: str, expect: str, why: str, statement: dict[str, Any] | None = None,
            raw: bytes | None = None, signature: bytes | None = None, sign: bool = True) -> None:
        data_ = raw if raw is not None else canonical(statement)
        if signature is None:
            signature = crypto.sign(AUTHOR.seed, purpose=C.STATEMENT, message=data_) if sign else sig
        case(f"statement-{name}", "statement", expect, why,
             {"statement": h(data_), "signature": h(signature)})

    bad("not-canonical", "format", "the statement bytes are not canonical (a space), though signed",
        raw=data.replace(b'"kind":', b'"kind": '))
    bad("bad-signature", "signature", "the signature of another statement", st2, sign=False)
    bad("signature-other-label", "signature", "signed with the record label, not the statement label",
        st, signature=crypto.sign(AUTHOR.seed, purpose=C.RECORD, message=data))
    bad("signed-by-another-key", "signature", "signed by a key other than author.sign_key", st,
        signature=crypto.sign(LAWYER.seed, purpose=C.STATEMENT, message=data))
    bad("version-true", "format", "version true is not the integer 1", {**st, "version": True})
    bad("unknown-kind", "format", "kind is neither testimony nor evidence", {**st, "kind": "rumour"})
    bad("extra-field", "format", "an unknown top-level field", {**st, "x": 1})
    bad("unsorted-fields", "format", "fields not sorted", {**st, "fields": st["fields"][::-1]})
    bad("repeated-field", "format", "a digest listed twice",
        {**st, "fields": sorted(st["fields"] + st["fields"][:1])})
    bad("fields-not-hex", "format", "a fields entry that is not a 32-byte hex digest",
        {**st, "fields": [{}]})
    bad("short-nonce", "format", "a nonce of 8 bytes, not 16", {**st, "nonce": "00" * 8})
    bad("bad-time", "format", "created is not a UTC time", {**st, "created": "2024-03-14"})


# --- §8 envelopes -------------------------------------------------------------------------------------

def stanza_keys(label: str, real: list[bytes], n: int, positions: list[int]) -> list[dict[str, str]]:
    """n stanza recipes: real recipients at `positions`, throwaway keys elsewhere."""
    out, real_iter = [], iter(real)
    for i in range(n):
        if i in positions:
            pk = next(real_iter)
        else:
            pk = crypto.box_public_key(fixed(f"{label}/throwaway/{i}"))
        out.append({"recipient_box_key": h(pk), "ephemeral_secret": h(fixed(f"{label}/ephemeral/{i}"))})
    return out


def build_envelope(stanzas: list[dict[str, str]], data_key: bytes, nonce: bytes, payload: bytes,
                   *, count: int | None = None, magic: bytes = C.ENVELOPE_MAGIC) -> bytes:
    body = b"".join(unsafe_deterministic_seal(bytes.fromhex(s["recipient_box_key"]), data_key,
                                              bytes.fromhex(s["ephemeral_secret"])) for s in stanzas)
    head = magic + u16(len(stanzas) if count is None else count) + body + nonce
    _, sealed = crypto.xchacha_encrypt(data_key, payload, aad=head, nonce=nonce)
    return head + sealed


def frame(body: bytes, *, extra_zeros: int = 0) -> bytes:
    framed = u32(len(body)) + body
    return framed + bytes(-len(framed) % C.ENVELOPE_PAD_MULTIPLE + extra_zeros)


def chunk_refs(data: bytes, secret: bytes) -> list[dict[str, Any]]:
    keyer = crypto.ChunkKeyer(secret)
    return [encrypt_chunk(keyer, c).ref() for c in padded_chunks(data)]


# The envelopes built below, reused as the objects of the bundle vectors (§17).
ENVELOPES: dict[str, tuple[str, bytes]] = {}


def envelopes() -> None:
    inputs = statement_inputs(TESTIMONY_FIELDS, [attachment_value()])
    st, disc, data, sig = make_statement(inputs)
    sha = attachment_value()["sha256"]
    chunks = {sha: chunk_refs(ATTACHMENT_FILE, AUTHOR.convergence_secret)}
    payload = envelope_payload(st, sig, disc, chunks, ssh_signature=sshsig.sign(AUTHOR.seed, data))
    data_key = fixed("envelope/data-key")
    nonce = fixed("envelope/nonce", C.XCHACHA_NONCE_BYTES)
    stanzas = stanza_keys("envelope", [AUTHOR.card.box_key], 4, [2])
    env = build_envelope(stanzas, data_key, nonce, payload)
    ENVELOPES["author"] = (record_id(data), env)
    body = json.loads(payload[4:4 + int.from_bytes(payload[:4], "big")])
    ct_at = len(C.ENVELOPE_MAGIC) + 2 + 4 * C.SEALED_BOX_BYTES + C.XCHACHA_NONCE_BYTES
    common_out = {"record_id": record_id(data), "statement": h(data), "signature": h(sig),
                  "sshsig": h(sshsig.sign(AUTHOR.seed, data)), "disclosures": disc, "chunks": chunks}
    case("envelope-author", "envelope", "ok",
         "a testimony sealed to its author alone: 4 stanzas, the author's in slot 2, the others "
         "sealed to throwaway keys. Stanzas use fixed ephemeral keys (a writer MUST use fresh "
         "random ones). AAD = every byte before the ciphertext, the nonce included",
         {"box_secret": h(AUTHOR.box_secret), "data_key": h(data_key), "nonce": h(nonce),
          "stanzas": stanzas, "payload_json": body, "attachment_file": h(ATTACHMENT_FILE),
          "convergence_secret": h(AUTHOR.convergence_secret)},
         {**common_out, "payload": h(payload), "aad": h(env[:ct_at]), "envelope": h(env)})

    # Five distinct recipients → 8 stanzas; opened by the lawyer, not the author.
    extra = [crypto.box_public_key(fixed(f"envelope-8/peer/{i}")) for i in range(3)]
    real = [AUTHOR.card.box_key, LAWYER.card.box_key, *extra]
    data_key8, nonce8 = fixed("envelope-8/data-key"), fixed("envelope-8/nonce", C.XCHACHA_NONCE_BYTES)
    stanzas8 = stanza_keys("envelope-8", real, 8, [0, 3, 4, 6, 7])
    env8 = build_envelope(stanzas8, data_key8, nonce8, payload)
    ENVELOPES["eight"] = (record_id(data), env8)
    case("envelope-eight-stanzas", "envelope", "ok",
         "the same record sealed to 5 distinct recipients (8 stanzas), opened with the lawyer's "
         "box key: a new envelope, the same record id",
         {"box_secret": h(LAWYER.box_secret), "data_key": h(data_key8), "nonce": h(nonce8),
          "stanzas": stanzas8, "payload_json": body},
         {**common_out, "payload": h(payload), "envelope": h(env8)})

    def bad(name: str, expect: str, why: str, envelope: bytes, box_secret: bytes = AUTHOR.box_secret) -> None:
        case(f"envelope-{name}", "envelope", expect, why,
             {"envelope": h(envelope), "box_secret": h(box_secret)})

    def resealed(payload_: bytes, label: str, **kw: Any) -> bytes:
        return build_envelope(stanzas, data_key, fixed(f"envelope/{label}/nonce", 24), payload_, **kw)

    def with_body(label: str, **changes: Any) -> bytes:
        return resealed(frame(canonical({**body, **changes})), label)

    flip = bytearray(env)
    flip[-100] ^= 0x40
    bad("flipped-ciphertext", "integrity", "one ciphertext byte flipped", bytes(flip))
    flip = bytearray(env)
    flip[ct_at - 1] ^= 1
    bad("flipped-nonce", "integrity", "one nonce byte flipped (the nonce is in the AAD too)", bytes(flip))
    flip = bytearray(env)
    stanza2 = len(C.ENVELOPE_MAGIC) + 2 + 2 * C.SEALED_BOX_BYTES
    flip[stanza2 + 40] ^= 1
    bad("flipped-own-stanza", "trust", "a byte of the reader's own stanza flipped: no stanza opens",
        bytes(flip))
    flip = bytearray(env)
    flip[len(C.ENVELOPE_MAGIC) + 2 + 5] ^= 1
    bad("flipped-other-stanza", "integrity",
        "a byte of another stanza flipped: ours still opens, but the AAD no longer matches",
        bytes(flip))
    bad("not-a-recipient", "trust", "opened with a box key that is not among the stanzas", env,
        STRANGER.box_secret)
    magic_at = len(C.ENVELOPE_MAGIC)
    for n, why in [(5, "5 is not a multiple of 4"), (0, "0 stanzas"), (68, "68 > 64 stanzas"),
                   (2, "2 < 4 stanzas")]:
        bad(f"stanza-count-{n}", "format", f"the stanza count is {n}: {why}",
            env[:magic_at] + u16(n) + env[magic_at + 2:])
    bad("wrong-magic", "format", "an unknown magic", b"TESTIMONY-ENVELOPE-2\n" + env[magic_at:])
    bad("truncated", "format", "shorter than the stanzas, nonce, tag and 1 KiB",
        env[:ct_at + 16 + C.ENVELOPE_PAD_MULTIPLE - 1])
    bad("truncated-tag", "integrity", "the last byte missing: the ciphertext fails authentication",
        env[:-1])

    non_canonical = payload[4:4 + int.from_bytes(payload[:4], "big")].replace(b'"chunks":', b'"chunks": ')
    bad("payload-not-canonical", "format", "the payload JSON has a space", resealed(frame(non_canonical), "nc"))
    bad("payload-unknown-field", "format", "the payload has an extra key", with_body("extra", extra=1))
    nonzero = bytearray(payload)
    nonzero[-1] = 1
    bad("payload-padding-not-zero", "format", "a padding byte is not zero", resealed(bytes(nonzero), "nz"))
    bad("payload-padding-not-minimal", "format", "1 KiB more zeros than needed",
        resealed(frame(canonical(body), extra_zeros=C.ENVELOPE_PAD_MULTIPLE), "nm"))
    bad("payload-length-too-large", "format", "the u32 length points past the payload",
        resealed(u32(len(payload)) + payload[4:], "len"))
    other_sig = crypto.sign(LAWYER.seed, purpose=C.STATEMENT, message=data)
    bad("bad-signature", "signature", "the statement signed by a key that is not its author's",
        with_body("sig", signature=h(other_sig)))
    st_true = {**st, "version": True}
    bad("statement-version-true", "format", "a statement with version true (signed by its author)",
        with_body("vtrue", statement=st_true, signature=h(crypto.sign(
            AUTHOR.seed, purpose=C.STATEMENT, message=canonical(st_true)))))
    altered = [[s, n, (v + " (edited)" if n == "body" else v)] for s, n, v in disc]
    bad("disclosure-altered", "integrity", "the disclosed body differs from what the statement commits to",
        with_body("alt", disclosures=altered))
    bad("disclosure-missing", "integrity", "one committed field is not disclosed",
        with_body("miss", disclosures=[d for d in disc if d[1] != "witness"]))
    bad("disclosure-repeated", "integrity", "a disclosure given twice",
        with_body("rep", disclosures=disc + disc[:1]))
    short = {sha: [{**chunks[sha][0], "size": 1000}]}
    bad("chunks-short", "format", "the chunk sizes do not add up to Padmé(attachment size)",
        with_body("short", chunks=short))
    bad("chunks-missing", "format", "no chunk list for the attachment", with_body("nochunks", chunks={}))
    bad("chunk-size-true", "format", "a chunk size that is true, not an integer",
        with_body("ctrue", chunks={sha: [{**chunks[sha][0], "size": True}]}))
    bad("sshsig-missing", "format", "a payload without `sshsig` (the layout before SSHSIG was added)",
        resealed(frame(canonical({k: v for k, v in body.items() if k != "sshsig"})), "nossh"))
    bad("sshsig-short", "format", "an `sshsig` of 32 bytes, not 64", with_body("sshshort", sshsig="00" * 32))
    bad("sshsig-other-key", "signature",
        "the statement's SSHSIG made by a key that is not its author's (the testimony signature holds)",
        with_body("sshother", sshsig=h(sshsig.sign(LAWYER.seed, data))))
    bad("sshsig-raw-ed25519", "signature",
        "`sshsig` is the author's plain Ed25519 signature of the statement bytes, not of the SSHSIG "
        "signed data", with_body("sshraw", sshsig=h(nacl.bindings.crypto_sign(
            data, nacl.bindings.crypto_sign_seed_keypair(AUTHOR.seed)[1])[:64])))
    bad("sshsig-swapped", "signature",
        "`sshsig` and `signature` swapped: each signature is over different bytes",
        with_body("sshswap", sshsig=h(sig), signature=h(sshsig.sign(AUTHOR.seed, data))))


# --- §9 evidence chunks -------------------------------------------------------------------------------

def chunk_vectors() -> None:
    secret = fixed("chunk/convergence-secret")
    keyer = crypto.ChunkKeyer(secret)
    for name, plain in [("short", b"Riverside clinic notice (fictional)\n"),
                        ("zeros-1024", bytes(1024))]:
        c = encrypt_chunk(keyer, plain)
        case(f"chunk-{name}", "chunk", "ok",
             "key = HMAC-SHA256(convergence_secret, 'testimony/v1/chunk\\0' ‖ chunk); object = "
             "AES-256-GCM(key, nonce = 12 zero bytes, chunk, AAD = 'testimony/v1/chunk' without "
             "NUL) = ciphertext ‖ 16-byte tag; id = SHA-256(object)",
             {"convergence_secret": h(secret), "chunk": h(plain)},
             {"key": h(c.key), "object": h(c.obj), "id": h(c.object_id)})
    c = encrypt_chunk(keyer, b"Riverside clinic notice (fictional)\n")
    flipped = bytearray(c.obj)
    flipped[0] ^= 1
    case("chunk-flipped-object", "chunk", "integrity", "one byte of the object flipped",
         {"key": h(c.key), "object": h(bytes(flipped))})
    wrong_aad = AESGCM(c.key).encrypt(bytes(12), b"Riverside clinic notice (fictional)\n",
                                             C.CHUNK)
    case("chunk-aad-with-nul", "chunk", "integrity",
         "encrypted with the AAD 'testimony/v1/chunk\\0' (with the NUL): the AAD has no NUL",
         {"key": h(c.key), "object": h(wrong_aad)})

    for size in (0, 1000, 2_500_000):
        data = pattern(size)
        refs = chunk_refs(data, secret)
        case(f"chunked-file-{size}", "chunked_file", "ok",
             "a file whose byte i is i mod 251, followed by zeros up to Padmé(size), cut into "
             "1 MiB chunks (the last one shorter)",
             {"convergence_secret": h(secret), "size": size, "content": "byte i = i mod 251"},
             {"padded_size": padme(size), "sha256": hashlib.sha256(data).hexdigest(), "chunks": refs})


# --- §10 packs ---------------------------------------------------------------------------------------

def packs() -> None:
    objects = [b"first object (fictional)", bytes(range(256)), b""]
    ids = [hashlib.sha256(o).digest() for o in objects]
    pack = C.PACK_MAGIC + b"".join(i + u32(len(o)) + o for i, o in zip(ids, objects))
    pid = pack_id_for(ids)
    offsets, at = [], len(C.PACK_MAGIC)
    for o in objects:
        offsets.append([at + 36, len(o)])
        at += 36 + len(o)
    case("pack", "pack", "ok",
         "a pack of three objects (one empty): magic ‖ (id ‖ u32 length ‖ bytes)*; pack id = "
         "SHA-256('testimony/v1/pack\\0' ‖ the ids in order)",
         {"objects": [h(o) for o in objects]},
         {"ids": [h(i) for i in ids], "pack_id": pid, "pack": h(pack), "entries": offsets})

    def bad(name: str, expect: str, why: str, data: bytes, pack_id: str = pid) -> None:
        case(f"pack-{name}", "pack", expect, why, {"pack_id": pack_id, "pack": h(data)})

    swapped = C.PACK_MAGIC + b"".join(i + u32(len(o)) + o for i, o in zip(ids[::-1], objects[::-1]))
    bad("entries-reordered", "integrity", "the same entries in another order: the name no longer matches",
        swapped)
    bad("wrong-magic", "format", "an unknown magic", b"TESTIMONY-PACK-2\n" + pack[len(C.PACK_MAGIC):])
    bad("truncated-entry", "format", "the last entry's head cut short", pack[:-10])
    flipped = bytearray(pack)
    flipped[len(C.PACK_MAGIC) + 36] ^= 1
    bad("flipped-object", "integrity", "a byte of the first object flipped (found when reading data)",
        bytes(flipped))
    bad("length-past-end", "format", "an entry length that points past the end of the file",
        C.PACK_MAGIC + ids[0] + u32(10**6) + objects[0])
    bad("oversized-entry", "format", "an entry length above the 17 MiB object limit",
        C.PACK_MAGIC + ids[0] + u32(C.MAX_OBJECT_BYTES + 1) + objects[0])


# --- §11 index --------------------------------------------------------------------------------------

def index_vectors() -> None:
    index_key = AUTHOR.index_key
    meta_key = crypto.derive_key(index_key, C.INDEX_META)
    dedup_key = crypto.derive_key(index_key, C.INDEX_DEDUP)
    inputs = statement_inputs(TESTIMONY_FIELDS, [attachment_value()])
    st, disc, data, sig = make_statement(inputs)
    rid = record_id(data)
    meta = {"kind": st["kind"], "created": st["created"], "author": st["author"]["name"],
            "author_fingerprint": AUTHOR.card.fingerprint, "supersedes": [],
            "fields": TESTIMONY_FIELDS, "attachments": [attachment_value()]}
    nonce = fixed("index/nonce", C.XCHACHA_NONCE_BYTES)
    _, ct = crypto.xchacha_encrypt(meta_key, canonical(meta), aad=rid.encode(), nonce=nonce)
    file_sha = bytes.fromhex(attachment_value()["sha256"])
    case("index-meta", "index", "ok",
         "meta_key = HKDF-SHA256(index_key, salt none, info 'testimony/v1/index/meta\\0'); sealed = "
         "nonce ‖ XChaCha20-Poly1305(meta_key, canonical(meta), AAD = the record id as 64 ASCII hex "
         "digits); dedup_key likewise with 'testimony/v1/index/dedup\\0'; dedup mac = "
         "HMAC-SHA256(dedup_key, 'testimony/v1/index/dedup\\0' ‖ the file's raw 32-byte SHA-256)",
         {"index_key": h(index_key), "record_id": rid, "meta": meta, "nonce": h(nonce),
          "file_sha256": h(file_sha)},
         {"meta_key": h(meta_key), "dedup_key": h(dedup_key), "sealed": h(nonce + ct),
          "dedup_mac": h(crypto.keyed_hash(dedup_key, C.INDEX_DEDUP, file_sha))})
    other = "0" * 64
    case("index-meta-swapped-row", "index", "integrity",
         "the sealed metadata of one record opened under another record id (rows swapped)",
         {"index_key": h(index_key), "record_id": other, "sealed": h(nonce + ct)})


# --- §13 the text header block -----------------------------------------------------------------------

def text_headers() -> None:
    for name, text, expect, why in [
        ("full", "title: Refused\nTags: a, b\nwitness: W-3\nconsent: legal\nlocation: Riverside\n"
         "language: en\n---\nThey said no.\n", "ok", "every key; keys are case-insensitive"),
        ("no-header", "They said no.\ntitle: not a header\n---\n", "ok",
         "the first line is not a known key: the whole text is the body"),
        ("no-separator", "title: looks like a header\nbut there is no separator line\n", "ok",
         "no `---` line: the whole text is the body"),
        ("crlf", "title: Refused\r\n---\r\nThey said no.\r\n", "ok",
         "CRLF line ends: the header lines lose their CR, the body keeps its bytes"),
        ("empty-values", "title: \nwitness:\n---\nbody\n", "ok", "empty values are omitted"),
        ("unknown-key", "title: Refused\nwitnes: W-3\n---\nbody\n", "usage",
         "a typo in the header is an error, not body text"),
        ("repeated-key", "title: a\ntitle: b\n---\n", "usage", "a key given twice"),
    ]:
        outputs = {}
        if expect == "ok":
            parsed = parse_text(text)
            outputs = {"header": parsed.header, "body": parsed.body}
        case(f"text-header-{name}", "text_header", expect, why, {"text": text}, outputs)


# --- §17-20 bundles, custody events, revocations ---------------------------------------------------

ARCHIVIST = Who("archivist", "Archivist (fictional)")
COURIER = Who("courier", "Courier (fictional)")
LOST = Who("lost", "Lost laptop (fictional)")

BUNDLE_ID = h(fixed("bundle/id"))
BUNDLE_CREATED = "2024-03-15T10:00:00Z"
COURIER_BUNDLE_ID = h(fixed("bundle/courier-id"))


def unsafe_deterministic_hidden_seal(recipient_public: bytes, message: bytes, elligator_seed: bytes) -> bytes:
    """crypto.hidden_seal_to with a FIXED Elligator seed. Test vectors only, never real data.

    stanza = representative ‖ crypto_box(message, nonce = BLAKE2b-192(epk ‖ recipient_pk),
                                         recipient_pk, esk), epk = elligator_map(representative)
    """
    representative, esk = monocypher.elligator_key_pair(elligator_seed)
    epk = monocypher.elligator_map(representative)
    nonce = hashlib.blake2b(epk + recipient_public, digest_size=C.XCHACHA_NONCE_BYTES).digest()
    return representative + nacl.bindings.crypto_box(message, nonce, recipient_public, esk)


def hidden_seals() -> None:
    seed = fixed("hidden-seal/elligator-seed")
    message = fixed("hidden-seal/bundle-key")
    representative, esk = monocypher.elligator_key_pair(seed)
    epk = monocypher.elligator_map(representative)
    clean = crypto.box_public_key(esk)
    # The vector shows the point that matters: the ephemeral public key is the mapped point
    # (it may carry a low-order component), not X25519(esk, 9).
    assert epk != clean
    recipient = LAWYER.card.box_key
    nonce = hashlib.blake2b(epk + recipient, digest_size=C.XCHACHA_NONCE_BYTES).digest()
    stanza = unsafe_deterministic_hidden_seal(recipient, message, seed)
    assert len(stanza) == C.BUNDLE_STANZA_BYTES and crypto.hidden_open(LAWYER.box_secret, stanza) == message
    case("hidden-seal", "hidden_seal", "ok",
         "a bundle stanza: Monocypher crypto_elligator_key_pair(seed) gives (representative, esk); "
         "epk = crypto_elligator_map(representative), which differs from X25519(esk, 9) here; "
         "stanza = representative ‖ crypto_box(bundle key, nonce = BLAKE2b-192(epk ‖ recipient box "
         "key), recipient box key, esk). A writer MUST use a fresh random seed",
         {"elligator_seed": h(seed), "recipient_box_secret": h(LAWYER.box_secret), "message": h(message)},
         {"recipient_box_key": h(recipient), "representative": h(representative),
          "ephemeral_secret": h(esk), "ephemeral_public": h(epk), "x25519_base_of_esk": h(clean),
          "nonce": h(nonce), "stanza": h(stanza)})
    top = bytearray(stanza)
    top[31] ^= 0xC0
    case("hidden-seal-top-bits-ignored", "hidden_seal", "ok",
         "the representative's two top bits flipped: the map ignores them, so the stanza still "
         "opens (which is why the first message's AD covers every stanza byte)",
         {"recipient_box_secret": h(LAWYER.box_secret), "stanza": h(bytes(top))}, {"message": h(message)})
    case("hidden-seal-not-for-us", "hidden_seal", "trust", "opened with a box key it was not sealed to",
         {"recipient_box_secret": h(STRANGER.box_secret), "stanza": h(stanza)})
    flipped = bytearray(stanza)
    flipped[40] ^= 1
    case("hidden-seal-flipped-mac", "hidden_seal", "trust", "a byte of the box's MAC flipped: it does not open",
         {"recipient_box_secret": h(LAWYER.box_secret), "stanza": h(bytes(flipped))})
    flipped = bytearray(stanza)
    flipped[5] ^= 1
    case("hidden-seal-flipped-representative", "hidden_seal", "trust",
         "a low byte of the representative flipped: another point, another key, it does not open",
         {"recipient_box_secret": h(LAWYER.box_secret), "stanza": h(bytes(flipped))})
    plain = unsafe_deterministic_seal(recipient, message, fixed("hidden-seal/plain-ephemeral"))
    case("hidden-seal-plain-sealed-box", "hidden_seal", "trust",
         "a plain libsodium crypto_box_seal of the same key (ephemeral public key in clear) is not a "
         "bundle stanza: read as a representative, its first 32 bytes map to another point",
         {"recipient_box_secret": h(LAWYER.box_secret), "stanza": h(plain)})


def _envelope_id(which: str) -> bytes:
    return hashlib.sha256(ENVELOPES[which][1]).digest()


def custody_events() -> None:
    rid = ENVELOPES["eight"][0]
    env8 = _envelope_id("eight")
    recorded = sign_event(AUTHOR.keys, event="recorded", envelope=env8, record=rid, peer=None, bundle=None,
                          time=CREATED)
    exported = sign_event(AUTHOR.keys, event="exported", envelope=env8, record=rid,
                          peer=LAWYER.card.fingerprint, bundle=BUNDLE_ID, time=BUNDLE_CREATED)
    relayed = sign_event(COURIER.keys, event="imported", envelope=env8, record=None,
                         peer=AUTHOR.card.fingerprint, bundle=BUNDLE_ID, time="2024-03-16T07:30:00Z")
    for name, who, e, why in [
        ("recorded", AUTHOR, recorded, "the `recorded` event `record` and `add` sign: peer and bundle "
         "null, time = the statement's created"),
        ("exported", AUTHOR, exported, "an `exported` event: one per envelope and recipient, time = the "
         "bundle's created"),
        ("imported-relay", COURIER, relayed, "an `imported` event by a courier that cannot read the "
         "envelope: record null"),
    ]:
        body = {k: v for k, v in e.signed.items() if k != "signature"}
        case(f"custody-event-{name}", "custody_event", "ok",
             f"{why}. signature = Ed25519 over 'testimony/v1/custody\\0' ‖ canonical(event without "
             "signature); event id = SHA-256('testimony/v1/custody\\0' ‖ canonical(signed event))",
             {**who.identity_inputs(), "event": e.event, "envelope": e.envelope, "record": e.record,
              "peer": e.peer, "bundle": e.bundle, "time": e.time},
             {"unsigned": h(canonical(body)), "signature": e.signed["signature"], "event": h(e.raw),
              "event_id": h(e.event_id), "actor_fingerprint": e.actor})

    body = {k: v for k, v in exported.signed.items() if k != "signature"}

    def bad(name: str, expect: str, why: str, value: dict[str, Any] | None = None, *,
            raw: bytes | None = None, sign: bool = True, purpose: bytes = C.CUSTODY) -> None:
        if raw is None:
            unsigned = {k: v for k, v in value.items() if k != "signature"}
            signature = crypto.sign(AUTHOR.seed, purpose=purpose, message=canonical(unsigned)).hex() \
                if sign else exported.signed["signature"]
            raw = canonical({**unsigned, "signature": signature})
        case(f"custody-event-{name}", "custody_event", expect, why, {"event": h(raw)})

    bad("time-altered", "signature", "the time changed after signing", {**body, "time": "2024-03-15T10:00:01Z"},
        sign=False)
    bad("actor-swapped", "signature", "the actor's keys replaced by the lawyer's, the author's signature kept",
        {**body, "actor": {"box_key": h(LAWYER.card.box_key), "sign_key": h(LAWYER.card.sign_key)}}, sign=False)
    bad("other-label", "signature", "signed with the statement label instead of the custody label", body,
        purpose=C.STATEMENT)
    bad("unknown-event", "format", "an event that is not recorded, exported, imported or disclosed (signed)",
        {**body, "event": "destroyed"})
    bad("extra-field", "format", "an unknown field (signed)", {**body, "note": "x"})
    bad("uppercase-record", "format", "record id in uppercase hex (signed)", {**body, "record": rid.upper()})
    bad("short-peer", "format", "a peer fingerprint of 16 bytes, not 32 (signed)",
        {**body, "peer": LAWYER.card.fingerprint[:32]})
    bad("version-true", "format", "version true is not the integer 1 (signed)", {**body, "version": True})
    bad("not-canonical", "format", "the event's bytes are not canonical JSON (a space)",
        raw=exported.raw.replace(b'"event":', b'"event": '))

    # Causal display order (custody.chain_order): the courier's and the lawyer's clocks run
    # behind the author's, so sorting by time alone would show imports before their exports.
    courier_export = sign_event(COURIER.keys, event="exported", envelope=env8, record=None,
                                peer=LAWYER.card.fingerprint, bundle=COURIER_BUNDLE_ID,
                                time="2024-03-15T08:00:00Z")
    courier_import = sign_event(COURIER.keys, event="imported", envelope=env8, record=None,
                                peer=AUTHOR.card.fingerprint, bundle=BUNDLE_ID, time="2024-03-15T07:59:00Z")
    lawyer_import = sign_event(LAWYER.keys, event="imported", envelope=env8, record=rid,
                               peer=COURIER.card.fingerprint, bundle=COURIER_BUNDLE_ID,
                               time="2024-03-14T09:00:00Z")
    exported_courier = sign_event(AUTHOR.keys, event="exported", envelope=env8, record=rid,
                                  peer=COURIER.card.fingerprint, bundle=BUNDLE_ID, time=BUNDLE_CREATED)
    chain = [recorded, exported_courier, courier_import, courier_export, lawyer_import]
    shuffled = [chain[i] for i in (4, 2, 0, 3, 1)]
    from archive.custody import chain_order
    assert chain_order(shuffled) == chain
    assert sorted(chain, key=lambda e: e.time) != chain
    case("custody-chain-order", "custody_order", "ok",
         "author → courier → lawyer, the later hops' clocks behind: displayed in causal order "
         "(recorded; each export before the import of its bundle; an actor exports after it first "
         "held the envelope), time only breaking ties",
         {"events": [h(e.raw) for e in shuffled]},
         {"order": [h(e.event_id) for e in chain]})


def revocations() -> None:
    stranger = Peer("Stranger (fictional)", "courier", STRANGER.card, "2024-03-02T12:00:00Z")
    rev = peer_revocation(AUTHOR.keys, stranger, created=CREATED)
    body = {k: v for k, v in rev.signed.items() if k != "signature"}
    case("peer-revocation", "peer_revocation", "ok",
         "`peers revoke`: {created, revoked, revoker: the revoker's whole card, type "
         "'testimony/peer-revocation', version 1}, signed by the revoker over "
         "'testimony/v1/revocation\\0' ‖ canonical(body)",
         {**AUTHOR.identity_inputs(), "revoked": STRANGER.card.fingerprint, "revocation_created": CREATED},
         {"unsigned": h(canonical(body)), "signature": rev.signed["signature"],
          "revocation": h(canonical(rev.signed)), "revoked": STRANGER.card.fingerprint,
          "revoker": AUTHOR.card.fingerprint, "row_id": h(crypto.labelled_hash(C.REVOCATION,
                                                                                canonical(rev.signed)))})
    cert = revocation_certificate(LOST.seed, LOST.card, created=LOST.card.created)
    case("peer-revocation-self-certificate", "peer_revocation", "ok",
         "the certificate `init` wrote (§5), as it travels in a manifest's revocations: a key "
         "revoking itself (revoked = revoker), dated at init",
         {"revocation": h(cert)},
         {"revocation": h(cert), "revoked": LOST.card.fingerprint, "revoker": LOST.card.fingerprint,
          "created": LOST.card.created})

    def bad(name: str, expect: str, why: str, value: dict[str, Any], *, sign: bool = True,
            purpose: bytes = C.REVOCATION) -> None:
        unsigned = {k: v for k, v in value.items() if k != "signature"}
        signature = crypto.sign(AUTHOR.seed, purpose=purpose, message=canonical(unsigned)).hex() \
            if sign else rev.signed["signature"]
        case(f"peer-revocation-{name}", "peer_revocation", expect, why,
             {"revocation": h(canonical({**unsigned, "signature": signature}))})

    bad("revoked-altered", "signature", "another key put in `revoked` after signing",
        {**body, "revoked": LAWYER.card.fingerprint}, sign=False)
    bad("backdated", "signature", "the date moved earlier after signing",
        {**body, "created": "2024-01-01T00:00:00Z"}, sign=False)
    bad("revoker-renamed", "signature", "the revoker's card renamed: its self-signature fails",
        {**body, "revoker": {**body["revoker"], "name": "Someone else"}})
    bad("signed-as-custody", "signature", "signed with the custody label", body, purpose=C.CUSTODY)
    bad("extra-field", "format", "an unknown field (signed)", {**body, "reason": "lost"})
    bad("unknown-type", "format", "an unknown type (signed)", {**body, "type": "testimony/unpin"})
    bad("version-2", "format", "version 2 (signed)", {**body, "version": 2})
    bad("revoked-not-hex", "format", "revoked is not a 32-byte hex fingerprint (signed)",
        {**body, "revoked": STRANGER.card.fingerprint[:32]})


# --- SSHSIG (PROTOCOL.sshsig) --------------------------------------------------------------------

def _ssh_string(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return u32(len(raw)) + raw


def unsafe_armor(sign_key: bytes, signature: bytes, *, namespace: str = "testimony",
                 hash_name: str = "sha512") -> str:
    """An armored SSHSIG with any namespace and hash name, for the negative vectors."""
    blob = (b"SSHSIG" + u32(1) + _ssh_string(sshsig.public_key_blob(sign_key)) + _ssh_string(namespace)
            + _ssh_string(b"") + _ssh_string(hash_name)
            + _ssh_string(_ssh_string("ssh-ed25519") + _ssh_string(signature)))
    import base64
    text = base64.b64encode(blob).decode()
    return "\n".join(["-----BEGIN SSH SIGNATURE-----", *[text[i:i + 70] for i in range(0, len(text), 70)],
                      "-----END SSH SIGNATURE-----"]) + "\n"


def _ed25519(seed: bytes, message: bytes) -> bytes:
    """A plain Ed25519 signature, no label (SSHSIG signs its own signed-data blob)."""
    return nacl.bindings.crypto_sign(message, nacl.bindings.crypto_sign_seed_keypair(seed)[1])[:64]


def _ssh_signed_data(message: bytes, *, namespace: str = "testimony", hash_name: str = "sha512") -> bytes:
    digest = hashlib.new(hash_name, message).digest()
    return (b"SSHSIG" + _ssh_string(namespace) + _ssh_string(b"") + _ssh_string(hash_name)
            + _ssh_string(digest))


def sshsig_vectors() -> None:
    _, _, data, _ = make_statement(statement_inputs(TESTIMONY_FIELDS, [attachment_value()]))
    pk = AUTHOR.card.sign_key
    sig = sshsig.sign(AUTHOR.seed, data)
    assert sig == _ed25519(AUTHOR.seed, _ssh_signed_data(data)) == _ed25519(AUTHOR.seed, sshsig.signed_data(data))
    armored = sshsig.armor(pk, sig)
    assert armored == unsafe_armor(pk, sig)
    case("sshsig", "sshsig", "ok",
         "the second signature every envelope carries (`sshsig`, §8) and a disclosure package's "
         "statement.json.sig: an OpenSSH SSHSIG (PROTOCOL.sshsig) over the canonical statement bytes "
         "(here those of statement-testimony), namespace `testimony`, hash sha512. signed_data = "
         "'SSHSIG' ‖ string(namespace) ‖ string('') ‖ string('sha512') ‖ string(SHA-512(message)), "
         "string(x) = u32 length ‖ x; signature = plain Ed25519(seed, signed_data), no testimony label. "
         "`ssh-keygen -Y verify -f allowed_signers -I author -n testimony -s sig < message` accepts it",
         {"sign_seed": h(AUTHOR.seed), "message": h(data), "namespace": "testimony", "hash": "sha512",
          "principal": disclosure.SSH_PRINCIPAL},
         {"sign_key": h(pk), "public_key_blob": h(sshsig.public_key_blob(pk)),
          "message_sha512": h(hashlib.sha512(data).digest()), "signed_data": h(sshsig.signed_data(data)),
          "signature": h(sig), "armored": armored,
          "allowed_signers": sshsig.allowed_signers_line(disclosure.SSH_PRINCIPAL, pk)})

    def bad(name: str, expect: str, why: str, armored_: str, message: bytes = data) -> None:
        case(f"sshsig-{name}", "sshsig", expect, why, {"armored": armored_, "message": h(message)})

    bad("message-altered", "signature", "the message has one more byte than what was signed",
        armored, data + b" ")
    bad("raw-ed25519", "signature", "a plain Ed25519 signature of the message itself, not of the SSHSIG "
        "signed data", unsafe_armor(pk, _ed25519(AUTHOR.seed, data)))
    bad("signed-for-git", "signature", "signed over namespace `git` but labelled `testimony`: the "
        "namespace is inside the signed data", unsafe_armor(pk, _ed25519(
            AUTHOR.seed, _ssh_signed_data(data, namespace="git"))))
    bad("namespace-file", "format", "a valid SSHSIG in namespace `file`: not a testimony signature",
        unsafe_armor(pk, _ed25519(AUTHOR.seed, _ssh_signed_data(data, namespace="file")), namespace="file"))
    bad("hash-sha256", "format", "a valid SSHSIG with hash sha256: testimony signatures use sha512",
        unsafe_armor(pk, _ed25519(AUTHOR.seed, _ssh_signed_data(data, hash_name="sha256")),
                     hash_name="sha256"))
    bad("truncated", "format", "the armored base64 cut short (the signature string runs past the end)",
        "\n".join(armored.splitlines()[:-2] + ["-----END SSH SIGNATURE-----"]) + "\n")


# --- the custody log: RFC 9162 tree, tree heads, inclusion and consistency ------------------------

SHOWN_TIMES = {1: "2024-03-14T09:40:00Z", 2: "2024-03-14T18:00:00Z"}
DISCLOSED = "2024-03-20T12:00:00Z"
EXPORT_HEAD_SIZE = 6


def author_log() -> list[CustodyEvent]:
    """The author's log, in order: two `recorded` events, the four `exported` events of the
    bundle vectors (two envelopes × lawyer, archivist), and a `disclosed` event."""
    rid8 = ENVELOPES["eight"][0]
    rida = ENVELOPES["author"][0]
    recorded = [sign_event(AUTHOR.keys, event="recorded", envelope=_envelope_id(w), record=r, peer=None,
                           bundle=None, time=CREATED) for w, r in (("author", rida), ("eight", rid8))]
    exported = [sign_event(AUTHOR.keys, event="exported", envelope=_envelope_id(w), record=r,
                           peer=p.card.fingerprint, bundle=BUNDLE_ID, time=BUNDLE_CREATED)
                for w, r in (("author", rida), ("eight", rid8)) for p in (LAWYER, ARCHIVIST)]
    disclosed = sign_event(AUTHOR.keys, event="disclosed", envelope=_envelope_id("author"), record=rida,
                           peer=None, bundle=None, time=DISCLOSED)
    return recorded + exported + [disclosed]


def _leaves(events: list[CustodyEvent]) -> list[bytes]:
    return [e.leaf_hash for e in events]


def log_head(size: int, time: str, *, who: Who = AUTHOR, events: list[CustodyEvent] | None = None) -> TreeHead:
    leaves = _leaves(events if events is not None else author_log())
    return sign_head(who.keys, size=size, root=merkle.root(leaves[:size]), time=time)


def _proof_hex(proof: list[bytes]) -> list[str]:
    return [h(p) for p in proof]


def tree_heads() -> None:
    for name, size, time, why in [
        ("tree-head", EXPORT_HEAD_SIZE, BUNDLE_CREATED,
         "the author's head over its first 6 events, as its bundle carries it"),
        ("tree-head-empty", 0, CARD_CREATED, "a head of an empty log: root = SHA-256 of nothing (RFC 9162)"),
    ]:
        head = log_head(size, time)
        body = {k: v for k, v in head.signed.items() if k != "signature"}
        case(name, "tree_head", "ok",
             f"{why}. body = {{log: the owner's sign_key and box_key, root, size, time, type "
             "'testimony/tree-head', version 1}; signature = Ed25519 over 'testimony/v1/tree-head\\0' ‖ "
             "canonical(body); head id = SHA-256('testimony/v1/tree-head\\0' ‖ canonical(signed head))",
             {**AUTHOR.identity_inputs(), "size": size, "root": h(head.root), "time": time},
             {"unsigned": h(canonical(body)), "signature": head.signed["signature"],
              "head": h(canonical(head.signed)), "head_id": h(head.head_id),
              "log_fingerprint": AUTHOR.card.fingerprint})
    head = log_head(EXPORT_HEAD_SIZE, BUNDLE_CREATED)
    body = {k: v for k, v in head.signed.items() if k != "signature"}

    def bad(name: str, expect: str, why: str, value: dict[str, Any], *, sign: bool = True,
            purpose: bytes = C.TREE_HEAD) -> None:
        unsigned = {k: v for k, v in value.items() if k != "signature"}
        signature = crypto.sign(AUTHOR.seed, purpose=purpose, message=canonical(unsigned)).hex() \
            if sign else head.signed["signature"]
        case(f"tree-head-{name}", "tree_head", expect, why, {"head": h(canonical({**unsigned, "signature": signature}))})

    bad("size-altered", "signature", "the size grew after signing", {**body, "size": 7}, sign=False)
    bad("root-altered", "signature", "another root after signing",
        {**body, "root": h(merkle.root(_leaves(author_log())[:5]))}, sign=False)
    bad("signed-as-custody", "signature", "signed with the custody label", body, purpose=C.CUSTODY)
    bad("log-swapped", "signature", "the lawyer's keys as `log`, the author's signature kept",
        {**body, "log": {"box_key": h(LAWYER.card.box_key), "sign_key": h(LAWYER.card.sign_key)}}, sign=False)
    bad("extra-field", "format", "an unknown field (signed)", {**body, "note": "x"})
    bad("version-true", "format", "version true is not the integer 1 (signed)", {**body, "version": True})
    bad("negative-size", "format", "a negative size (signed)", {**body, "size": -1})
    bad("root-short", "format", "a root of 16 bytes (signed)", {**body, "root": body["root"][:32]})
    bad("bad-time", "format", "time is not a UTC time (signed)", {**body, "time": "2024-03-15"})


def merkle_vectors() -> None:
    events = author_log()
    data = [e.raw for e in events]
    leaves = [merkle.leaf_hash(d) for d in data]
    n = len(leaves)
    case("merkle-tree", "merkle_tree", "ok",
         "the author's custody log (RFC 9162 §2.1 with SHA-256): leaf = the canonical signed event; "
         "leaf hash = SHA-256(0x00 ‖ leaf), node = SHA-256(0x01 ‖ left ‖ right), MTH({}) = SHA-256(''), "
         "split at the largest power of two below n. Every root of sizes 0-7, every inclusion path "
         "(leaf to root, RFC 9162 §2.1.3.1) and every consistency proof (§2.1.4.1; none from size 0, "
         "empty from m = n)",
         {"leaves": [h(d) for d in data]},
         {"leaf_hashes": [h(x) for x in leaves],
          "roots": [[k, h(merkle.root(leaves[:k]))] for k in range(n + 1)],
          "inclusion": [[k, i, _proof_hex(merkle.inclusion_proof(leaves[:k], i))]
                        for k in range(1, n + 1) for i in range(k)],
          "consistency": [[m, k, _proof_hex(merkle.consistency_proof(leaves[:k], m))]
                          for k in range(1, n + 1) for m in range(1, k + 1)]})


def inclusion_vectors() -> None:
    events = author_log()
    leaves = _leaves(events)
    head = log_head(EXPORT_HEAD_SIZE, BUNDLE_CREATED)
    at = 4
    inclusion = inclusion_dict(head, at, merkle.inclusion_proof(leaves[:EXPORT_HEAD_SIZE], at))
    base = {"event": h(events[at].raw), "heads": [head.signed], "inclusion": inclusion}
    case("custody-inclusion", "custody_inclusion", "ok",
         "an `exported` event with its proof, as a bundle's custody entry carries it: {head: the id of "
         "a head given alongside, index, proof: the RFC 9162 path}; the head MUST be the event actor's",
         base, {"head_id": h(head.head_id), "leaf_hash": h(events[at].leaf_hash), "root": h(head.root),
                "size": head.size})

    def bad(name: str, expect: str, why: str, **changes: Any) -> None:
        case(f"custody-inclusion-{name}", "custody_inclusion", expect, why, {**base, **changes})

    proof = inclusion["proof"]
    flipped = ("%064x" % (int(proof[0], 16) ^ 1))
    bad("wrong-index", "integrity", "the index of another leaf", inclusion={**inclusion, "index": 5})
    bad("flipped-proof", "integrity", "one bit of the path flipped",
        inclusion={**inclusion, "proof": [flipped, *proof[1:]]})
    bad("short-proof", "integrity", "the last hash of the path dropped", inclusion={**inclusion, "proof": proof[:-1]})
    bad("index-past-size", "integrity", "an index at the head's size",
        inclusion={**inclusion, "index": EXPORT_HEAD_SIZE})
    bad("other-event", "integrity", "the proof of leaf 4 given for the event at leaf 3",
        event=h(events[3].raw))
    lawyer_head = sign_head(LAWYER.keys, size=head.size, root=head.root, time=BUNDLE_CREATED)
    bad("other-log", "integrity",
        "a head with the same root and size, signed by the lawyer: an event proves inclusion only in "
        "its own actor's log", heads=[lawyer_head.signed], inclusion={**inclusion, "head": h(lawyer_head.head_id)})
    bad("head-not-given", "format", "the head the proof names is not among the heads", heads=[])
    bad("index-true", "format", "index true is not an integer", inclusion={**inclusion, "index": True})
    bad("extra-key", "format", "an unknown key in the inclusion object", inclusion={**inclusion, "size": 6})


def consistency_vectors() -> None:
    events = author_log()
    leaves = _leaves(events)
    h1, h2 = (log_head(k, SHOWN_TIMES[k]) for k in (1, 2))
    h4 = log_head(4, "2024-03-15T09:00:00Z")
    h6 = log_head(EXPORT_HEAD_SIZE, BUNDLE_CREATED)

    def proofs(sizes: tuple[int, ...], to: int, leaves_: list[bytes] = leaves) -> dict[str, list[str]]:
        return {str(m): _proof_hex(merkle.consistency_proof(leaves_[:to], m)) for m in sizes}

    def one(name: str, expect: str, why: str, new: TreeHead, known: list[tuple[TreeHead, dict[str, Any]]],
            consistency: Any) -> None:
        case(name, "log_consistency", expect, why,
             {"new": new.signed, "known": [{"head": k.signed, "consistency": c} for k, c in known],
              "consistency": consistency})

    to6 = proofs((1, 2), 6)
    one("log-consistency", "ok",
        "the head a bundle carries (6 events) against the heads its sender showed this recipient "
        "before (1 and 2 events): the manifest's `consistency` maps each old size, as a decimal "
        "string, to the RFC 9162 proof from it to the new head", h6, [(h1, {}), (h2, {})], to6)
    one("log-consistency-out-of-order", "ok",
        "bundles arrive out of order: the head of 6 came first, with its proofs from 1 and 2 (kept "
        "with it); the older head of 2 arrives now and is checked with the proof the newer one "
        "brought", h2, [(h1, {}), (h6, to6)], proofs((1,), 2))
    one("log-consistency-same-size", "ok",
        "a head of the same size and root signed again later: consistent, no proof needed", 
        log_head(EXPORT_HEAD_SIZE, "2024-03-16T00:00:00Z"), [(h6, to6)], {})
    one("log-consistency-empty-known", "ok", "a head of an empty log shown before says nothing: skipped",
        h2, [(log_head(0, CARD_CREATED), {})], {})
    forked_events = list(events)
    forked_events[1] = sign_event(AUTHOR.keys, event="recorded", envelope=_envelope_id("eight"),
                                  record=ENVELOPES["eight"][0], peer=None, bundle=None,
                                  time="2024-03-14T09:26:54Z")
    forked = _leaves(forked_events)
    h6f = log_head(EXPORT_HEAD_SIZE, BUNDLE_CREATED, events=forked_events)
    one("log-consistency-forked", "rollback",
        "the sender's second event was rewritten after it showed the head of 2: its new head's "
        "proof from 2, valid in the rewritten log, does not lead to the head of 2 it showed",
        h6f, [(h1, {}), (h2, {})], proofs((1, 2), 6, forked))
    one("log-consistency-fork-same-size", "rollback",
        "two heads of 6 events with different roots, both signed by the sender: a fork",
        h6f, [(h6, to6)], proofs((1, 2), 6, forked))
    one("log-consistency-shrunk", "rollback",
        "a head of 4 events after the sender showed one of 6: no proof from 4 came with the head of 6",
        h4, [(h6, to6)], proofs((1, 2), 4))
    one("log-consistency-missing-proof", "rollback",
        "the new head brings no proof from the size shown before", h6, [(h2, {})], {"1": to6["1"]})
    tampered = {**to6, "2": [("%064x" % (int(to6["2"][0], 16) ^ 1)), *to6["2"][1:]]}
    one("log-consistency-tampered-proof", "rollback", "one bit of the proof from 2 flipped",
        h6, [(h2, {})], tampered)
    one("log-consistency-not-object", "format", "`consistency` is a list, not an object",
        h6, [(h2, {})], [to6["2"]])


# --- disclosure packages ------------------------------------------------------------------------

INTERNAL_FIELDS = {**TESTIMONY_FIELDS, "witness": {"pseudonym": "W-17", "consent": "internal"}}


def _internal_payload() -> bytes:
    inputs = statement_inputs(INTERNAL_FIELDS, [attachment_value()], label="statement-internal")
    st, disc, data, sig = make_statement(inputs)
    sha = attachment_value()["sha256"]
    chunks = {sha: chunk_refs(ATTACHMENT_FILE, AUTHOR.convergence_secret)}
    return envelope_payload(st, sig, disc, chunks, ssh_signature=sshsig.sign(AUTHOR.seed, data))


def disclosure_choices() -> None:
    payload = _internal_payload()
    opened = decode_payload(payload)
    for name, reveal, expect, why in [
        ("default", [], "ok", "no --reveal: title, body and every attachment (fields the record lacks "
         "are skipped), in that order"),
        ("tags-and-one-attachment", ["tags", "attachment:clinic/notice.txt"], "ok",
         "named fields and an attachment by name, in the order asked"),
        ("internal-witness", ["witness"], "usage",
         "the witness consented to internal use only: their pseudonym is never disclosed"),
        ("unknown-name", ["author"], "usage", "not a field, `attachments` or `attachment:NAME`"),
        ("no-such-attachment", ["attachment:other.txt"], "usage", "no attachment has that name"),
    ]:
        outputs = {}
        if expect == "ok":
            outputs = {"revealed": [list(d) for d in disclosure.choose(opened, reveal)]}
        case(f"disclosure-choose-{name}", "disclosure_choice", expect, why,
             {"payload": h(payload), "reveal": reveal}, outputs)


PACKAGE_CREATED = DISCLOSED
PACKAGE_REVEAL = ["title", "attachments"]


def _custody_document(events: list[CustodyEvent], head: TreeHead, leaves: list[bytes],
                      envelope: bytes) -> dict[str, Any]:
    items = [{"event": e.signed,
              "inclusion": inclusion_dict(head, i, merkle.inclusion_proof(leaves[:head.size], i))}
             for i, e in enumerate(events) if e.envelope == envelope.hex()]
    return {"events": items, "heads": [head.signed]}


def _package(tmp: Path, custody: dict[str, Any]) -> dict[str, bytes]:
    opened = open_envelope(ENVELOPES["author"][1], AUTHOR.box_secret)
    revealed = disclosure.choose(opened, PACKAGE_REVEAL)
    out = tmp / "package"
    names = disclosure.write_package(out, opened=opened, author=AUTHOR.card, revealed=revealed,
                                     custody=custody, created=PACKAGE_CREATED,
                                     read_file=lambda value: [ATTACHMENT_FILE])
    return {n: (out / n).read_bytes() for n in names}


def disclosure_packages() -> None:
    import tempfile
    events = author_log()
    leaves = _leaves(events)
    head = log_head(len(events), DISCLOSED)
    custody = _custody_document(events, head, leaves, _envelope_id("author"))
    with tempfile.TemporaryDirectory() as tmp:
        files = _package(Path(tmp), custody)
    assert files[disclosure.SUMS] == _sums(files)
    inputs = {"envelope_vector": "envelope-author", "box_secret": h(AUTHOR.box_secret),
              "author_card": AUTHOR.card.to_dict(), "reveal": PACKAGE_REVEAL, "created": PACKAGE_CREATED,
              "attachment_file": h(ATTACHMENT_FILE), "custody": custody}
    case("disclosure-package", "disclosure", "ok",
         "the package `disclose --reveal title --reveal attachments` writes for the envelope-author "
         "record, disclosed by its author: every file, byte for byte (hex; disclosure.json and "
         "SHA256SUMS also as text). disclosure.json and custody.json are canonical JSON; SHA256SUMS "
         "lists every other file as `sha256sum` writes it, sorted by name; custody.json holds the "
         "envelope's events (recorded, exported twice, disclosed) with inclusion proofs under the "
         "head of 7 events. verify-disclosure passes all eight checks, and `ssh-keygen -Y verify` "
         "accepts statement.json.sig",
         inputs,
         {"files": {n: h(v) for n, v in sorted(files.items())},
          "disclosure_json": files[disclosure.DISCLOSURE].decode("utf-8"),
          "sha256sums": files[disclosure.SUMS].decode("utf-8"),
          "checks": ["files", "author card", "signature", "ssh signature", "record id", "revealed fields",
                     "attachments", "custody"]})

    def bad(name: str, expect: str, failed: str, why: str, edit: dict[str, bytes | None], *,
            resum: bool = True) -> None:
        changed = dict(files)
        for n, v in edit.items():
            if v is None:
                changed.pop(n)
            else:
                changed[n] = v
        stored = {n: (h(v) if v is not None else None) for n, v in edit.items()}
        if resum:
            stored[disclosure.SUMS] = h(_sums(changed))
        case(f"disclosure-{name}", "disclosure", expect, f"{why}; verification stops at `{failed}`",
             {"base": "disclosure-package", "edit": stored}, {"failed_check": failed})

    notice = f"{disclosure.FILES}/clinic_notice.txt"
    assert notice in files
    dj = json.loads(files[disclosure.DISCLOSURE])
    bad("file-changed", "integrity", "files", "one byte of the revealed file changed, SHA256SUMS not updated",
        {notice: files[notice][:-1] + b"!"}, resum=False)
    bad("file-added", "integrity", "files", "a file that SHA256SUMS does not list",
        {f"{disclosure.FILES}/extra.txt": b"added later\n"}, resum=False)
    bad("file-removed", "integrity", "files", "a file SHA256SUMS lists is missing",
        {disclosure.README: None}, resum=False)
    bad("file-changed-sums-updated", "integrity", "attachments",
        "the revealed file changed and SHA256SUMS recomputed: its SHA-256 is not the one the author "
        "signed", {notice: files[notice][:-1] + b"!"})
    bad("other-author-card", "integrity", "author card", "author.pub replaced by the lawyer's card",
        {disclosure.AUTHOR_CARD: LAWYER.card.to_bytes() + b"\n"})
    bad("ssh-signature-other-key", "signature", "ssh signature",
        "statement.json.sig is the lawyer's SSHSIG of the statement",
        {disclosure.SSH_SIGNATURE: sshsig.armor(
            LAWYER.card.sign_key, sshsig.sign(LAWYER.seed, files[disclosure.STATEMENT])).encode()})
    bad("allowed-signers-other-key", "signature", "ssh signature",
        "allowed_signers names the lawyer's key, so ssh-keygen would vouch for the wrong signer",
        {disclosure.ALLOWED_SIGNERS: sshsig.allowed_signers_line(
            disclosure.SSH_PRINCIPAL, LAWYER.card.sign_key).encode()})
    bad("other-record", "integrity", "record id", "disclosure.json names another record id",
        {disclosure.DISCLOSURE: canonical({**dj, "record": "0" * 64})})
    bad("field-twice", "format", "revealed fields", "the title revealed twice",
        {disclosure.DISCLOSURE: canonical({**dj, "revealed": dj["revealed"] + dj["revealed"][:1]})})
    bad("file-entry-wrong-size", "format", "attachments", "the files entry gives another size",
        {disclosure.DISCLOSURE: canonical({**dj, "files": [{**dj["files"][0], "size": 999}]})})
    no_recorded = {"events": [i for i in custody["events"] if i["event"]["event"] != "recorded"],
                   "heads": custody["heads"]}
    bad("recorded-dropped", "integrity", "custody", "custody.json without the author's `recorded` event",
        {disclosure.CUSTODY: canonical(no_recorded)})
    unproven = {"events": [{**i, "inclusion": None} if i["event"]["event"] == "exported" else i
                           for i in custody["events"]], "heads": custody["heads"]}
    bad("inclusion-dropped", "integrity", "custody", "two custody events without their inclusion proofs",
        {disclosure.CUSTODY: canonical(unproven)})
    other = sign_event(AUTHOR.keys, event="exported", envelope=fixed("disclosure/other-envelope"),
                       record=h(fixed("disclosure/other-record")), peer=LAWYER.card.fingerprint,
                       bundle=BUNDLE_ID, time=BUNDLE_CREATED)
    bad("event-of-other-record", "integrity", "custody", "an event about another record's envelope added",
        {disclosure.CUSTODY: canonical({**custody, "events": custody["events"] + [
            {"event": other.signed, "inclusion": None}]})})
    bad("disclosed-dropped", "integrity", "custody", "custody.json without the package's own `disclosed` event",
        {disclosure.CUSTODY: canonical({**custody, "events": [
            i for i in custody["events"] if i["event"]["event"] != "disclosed"]})})
    orphan = sign_event(LAWYER.keys, event="imported", envelope=_envelope_id("author"),
                        record=ENVELOPES["author"][0], peer=AUTHOR.card.fingerprint,
                        bundle=h(fixed("disclosure/unknown-bundle")), time=DISCLOSED)
    bad("import-without-export", "integrity", "custody",
        "an `imported` event of a bundle whose `exported` event is not in the chain",
        {disclosure.CUSTODY: canonical({**custody, "events": custody["events"] + [
            {"event": orphan.signed, "inclusion": None}]})})
    stranger_export = sign_event(COURIER.keys, event="exported", envelope=_envelope_id("author"),
                                 record=None, peer=LAWYER.card.fingerprint, bundle=COURIER_BUNDLE_ID,
                                 time=DISCLOSED)
    bad("export-by-non-holder", "integrity", "custody",
        "an `exported` event by a courier that no event shows holding the record",
        {disclosure.CUSTODY: canonical({**custody, "events": custody["events"] + [
            {"event": stranger_export.signed, "inclusion": None}]})})
    tampered = json.loads(canonical(custody))
    proof = tampered["events"][1]["inclusion"]["proof"]
    proof[0] = "%064x" % (int(proof[0], 16) ^ 1)
    bad("inclusion-tampered", "integrity", "custody", "one bit of an inclusion proof flipped",
        {disclosure.CUSTODY: canonical(tampered)})


def _sums(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(v).hexdigest()}  {n}\n"
                   for n, v in sorted(files.items()) if n != disclosure.SUMS).encode()


def _attachment_chunk() -> Any:
    """The one chunk object of ATTACHMENT_FILE, as the envelopes' chunk refs name it."""
    (chunk,) = [encrypt_chunk(crypto.ChunkKeyer(AUTHOR.convergence_secret), c)
                for c in padded_chunks(ATTACHMENT_FILE)]
    return chunk


def manifest_inputs() -> dict[str, Any]:
    """The manifest of the bundle vectors: AUTHOR sends two envelopes and their chunk to
    LAWYER and ARCHIVIST, as Sync.export writes it: the envelopes' custody events (its
    two `recorded` events and the four new `exported` ones, already in its log) each with
    its inclusion proof under the head it signed before writing (6 events), and proofs
    from the heads it had shown the lawyer before (1 and 2 events)."""
    rida, enva = ENVELOPES["author"]
    env8 = ENVELOPES["eight"][1]
    chunk = _attachment_chunk()
    objects = [(chunk.object_id, "chunk", len(chunk.obj)), (_envelope_id("author"), "envelope", len(enva)),
               (_envelope_id("eight"), "envelope", len(env8))]
    recipients = [LAWYER, ARCHIVIST]
    events = author_log()[:EXPORT_HEAD_SIZE]
    leaves = _leaves(events)
    head = log_head(EXPORT_HEAD_SIZE, BUNDLE_CREATED)
    custody = [{"event": e.signed, "inclusion": inclusion_dict(head, i, merkle.inclusion_proof(leaves, i))}
               for i, e in enumerate(events)]
    consistency = {str(m): _proof_hex(merkle.consistency_proof(leaves, m)) for m in (1, 2)}
    stranger = Peer("Stranger (fictional)", "courier", STRANGER.card, "2024-03-02T12:00:00Z")
    revs = [peer_revocation(AUTHOR.keys, stranger, created=CREATED).signed,
            json.loads(revocation_certificate(LOST.seed, LOST.card, created=LOST.card.created))]
    return {
        "bundle_id": BUNDLE_ID, "sender": AUTHOR.card.to_dict(),
        "recipients": [p.card.fingerprint for p in recipients], "created": BUNDLE_CREATED,
        "sequence": {LAWYER.card.fingerprint: 3, ARCHIVIST.card.fingerprint: 1},
        "objects": [{"id": h(i), "kind": k, "size": s} for i, k, s in objects],
        "acks": sorted(h(fixed(f"bundle/ack/{i}")) for i in range(2)),
        "custody": custody, "revocations": revs, "heads": [head.signed], "consistency": consistency,
    }


def manifest_bytes(inputs: dict[str, Any]) -> bytes:
    from archive.keys import card_from_dict
    return encode_manifest(
        bundle_id=inputs["bundle_id"], sender=card_from_dict(inputs["sender"]),
        recipients=inputs["recipients"], created=inputs["created"], sequence=inputs["sequence"],
        objects=[(bytes.fromhex(o["id"]), o["kind"], o["size"]) for o in inputs["objects"]],
        acks=inputs["acks"], custody=inputs["custody"], revocations=inputs["revocations"],
        heads=inputs["heads"], consistency=inputs["consistency"])


def manifests() -> None:
    inputs = manifest_inputs()
    raw = manifest_bytes(inputs)
    shown = [log_head(k, SHOWN_TIMES[k]).signed for k in (1, 2)]
    case("bundle-manifest", "bundle_manifest", "ok",
         "a manifest: canonical JSON; recipients and acks sorted, objects in stream order; `sequence` "
         "maps each recipient's fingerprint to its own (sender, recipient) number; each `custody` "
         "entry is {event, inclusion} with the proof under the sender's head in `heads`; "
         "`consistency` holds the proofs from the sizes the sender showed before (`shown_heads`, not "
         "part of the manifest) to that head; the SIGNATURE frame's signature is Ed25519 over "
         "'testimony/v1/bundle\\0' ‖ the manifest bytes",
         {"sign_seed": h(AUTHOR.seed), **inputs, "shown_heads": shown},
         {"manifest": h(raw), "signature": h(crypto.sign(AUTHOR.seed, purpose=C.BUNDLE, message=raw))})
    value = json.loads(raw)

    def bad(name: str, why: str, changed: dict[str, Any] | None = None, *, data: bytes | None = None) -> None:
        case(f"bundle-manifest-{name}", "bundle_manifest", "format", why,
             {"manifest": h(data if data is not None else canonical({**value, **changed}))})

    lawyer = LAWYER.card.fingerprint
    bad("not-canonical", "a space after a colon", data=raw.replace(b'"acks":', b'"acks": '))
    bad("version-2", "an unknown version", {"version": 2})
    bad("extra-field", "an unknown field", {"tree_head": None})
    bad("sequence-single-number", "`sequence` as one number (DESIGN.md's wording) rather than an object",
        {"sequence": 3})
    bad("sequence-missing-recipient", "`sequence` lacks one recipient", {"sequence": {lawyer: 3}})
    bad("sequence-zero", "a sequence number of 0 (they start at 1)",
        {"sequence": {**value["sequence"], lawyer: 0}})
    bad("five-recipients", "five recipients (a bundle has four stanzas)",
        {"recipients": sorted([lawyer] + [h(fixed(f"manifest/fp/{i}")) for i in range(4)]),
         "sequence": {fp: 1 for fp in [lawyer] + [h(fixed(f"manifest/fp/{i}")) for i in range(4)]}})
    bad("no-recipients", "no recipient", {"recipients": [], "sequence": {}})
    bad("object-twice", "the same object listed twice", {"objects": value["objects"] + value["objects"][:1]})
    bad("object-size-zero", "an object of size 0", {"objects": [{**value["objects"][0], "size": 0}]})
    bad("object-too-large", "an object above the 17 MiB object limit",
        {"objects": [{**value["objects"][0], "size": C.MAX_OBJECT_BYTES + 1}]})
    bad("object-unknown-kind", "an object kind other than envelope or chunk",
        {"objects": [{**value["objects"][0], "kind": "pack"}]})
    bad("ack-not-hex", "an ack that is not a 32-byte hex bundle id", {"acks": ["yesterday"]})
    bad("bad-created", "created is not a UTC time", {"created": "2024-03-15"})
    bad("custody-bare-event", "a custody entry that is the signed event itself, not {event, inclusion}",
        {"custody": [e["event"] for e in value["custody"]]})
    bad("custody-entry-extra-key", "a custody entry with a key besides event and inclusion",
        {"custody": [{**value["custody"][0], "head": None}, *value["custody"][1:]]})
    bad("heads-not-list", "`heads` is an object, not a list", {"heads": value["heads"][0]})
    bad("head-not-object", "a `heads` entry that is not an object", {"heads": ["00" * 32]})
    bad("consistency-not-object", "`consistency` is a list, not an object",
        {"consistency": list(value["consistency"].values())})
    bad("no-heads-field", "no `heads` field (the layout before the Merkle log)",
        data=canonical({k: v for k, v in value.items() if k != "heads"}))


def _pinned(*entries: tuple[Who, str | None]) -> list[dict[str, Any]]:
    return [{"card": w.card.to_dict(), "revoked": revoked} for w, revoked in entries]


def _bundle_objects() -> list[tuple[bytes, bytes]]:
    chunk = _attachment_chunk()
    return [(chunk.object_id, chunk.obj), (_envelope_id("author"), ENVELOPES["author"][1]),
            (_envelope_id("eight"), ENVELOPES["eight"][1])]


def _reads_as(data: bytes, manifest: bytes, objects: list[tuple[bytes, bytes]]) -> bool:
    """Whether stored bundle bytes still decode, for LAWYER, to exactly this manifest and these objects."""
    def key_for(fp: str) -> bytes:
        if fp != AUTHOR.card.fingerprint:
            raise TrustError("not the vector's sender")
        return AUTHOR.card.sign_key
    try:
        reader = BundleReader(io.BytesIO(data), len(data), LAWYER.box_secret, key_for)
        got = [(i, d) for i, _, d in reader.objects()]
    except ArchiveError:
        return False
    return reader.manifest.raw == manifest and got == objects


def bundles() -> None:
    manifest = manifest_bytes(manifest_inputs())
    objects = _bundle_objects()
    recipients = [LAWYER.card.box_key, ARCHIVIST.card.box_key]
    stored = HERE / "bundle-small.json"
    data = None
    if stored.exists():
        data = bytes.fromhex(json.loads(stored.read_text(encoding="utf-8"))["outputs"]["bundle"])
        if not _reads_as(data, manifest, objects):
            data = None
    if data is None:  # random keys, slots and header: made once, then kept (see the docstring)
        out = io.BytesIO()
        write_bundle(out, recipient_box_keys=recipients, signing_seed=AUTHOR.seed,
                     signer_fingerprint=AUTHOR.card.fingerprint, manifest=manifest, objects=iter(objects))
        data = out.getvalue()
        assert _reads_as(data, manifest, objects)
    prefix_len = C.BUNDLE_STANZAS * C.BUNDLE_STANZA_BYTES + C.SECRETSTREAM_HEADER_BYTES
    slots = [crypto.hidden_open(LAWYER.box_secret, data[i * 80:(i + 1) * 80]) for i in range(4)]
    own = next(i for i, k in enumerate(slots) if k is not None)
    archivist = next(i for i in range(4) if crypto.hidden_open(ARCHIVIST.box_secret, data[i * 80:(i + 1) * 80]))
    other = next(i for i in range(4) if i not in (own, archivist))
    signature = crypto.sign(AUTHOR.seed, purpose=C.BUNDLE, message=manifest)
    frames = (bytes([C.FRAME_SIGNATURE]) + u32(96) + bytes.fromhex(AUTHOR.card.fingerprint) + signature
              + bytes([C.FRAME_MANIFEST]) + u32(len(manifest)) + manifest
              + b"".join(bytes([C.FRAME_OBJECT]) + u32(32 + len(o)) + i + o for i, o in objects)
              + bytes([C.FRAME_END]) + u32(0))
    messages = -(-len(frames) // C.BUNDLE_MESSAGE_BYTES)
    assert len(data) == prefix_len + messages * (C.BUNDLE_MESSAGE_BYTES + C.SECRETSTREAM_ABYTES)
    reader_inputs = {"box_secret": h(LAWYER.box_secret), "pinned": _pinned((AUTHOR, None))}
    case("bundle-small", "bundle", "ok",
         "a whole bundle from the author to the lawyer and the archivist (two stanzas sealed to them, "
         "two to throwaway keys, shuffled), holding a chunk and two envelopes, read with the lawyer's "
         "key. Its keys, slot order and secretstream header are random, so these bytes were made "
         "once by the real writer and are kept; `plaintext` is the frame stream before its zero "
         "padding, `bundle_key` what the lawyer's stanza opens to",
         {**reader_inputs, "sender_sign_seed": h(AUTHOR.seed),
          "recipient_box_keys": [h(k) for k in recipients], "manifest_vector": "bundle-manifest"},
         {"bundle": h(data), "size": len(data), "messages": messages, "own_slot": own,
          "bundle_key": h(slots[own]), "first_message_ad": h(hashlib.sha256(data[:prefix_len]).digest()),
          "plaintext": h(frames), "manifest": h(manifest), "signature": h(signature),
          "objects": [{"id": h(i), "kind": k, "size": len(o)}
                      for (i, o), k in zip(objects, ("chunk", "envelope", "envelope"))]})

    def bad(name: str, expect: str, why: str, edit: dict[str, Any], **changes: Any) -> None:
        case(f"bundle-{name}", "bundle", expect, why, {"base": "bundle-small", "edit": edit,
                                                        **reader_inputs, **changes})

    message_at = prefix_len
    bad("flipped-message-byte", "integrity", "one ciphertext byte of the message flipped",
        {"xor": [message_at + 1000, 1]})
    bad("flipped-tag", "integrity", "the last byte (the message's MAC) flipped", {"xor": [len(data) - 1, 1]})
    bad("flipped-header", "integrity", "a byte of the secretstream header flipped",
        {"xor": [prefix_len - C.SECRETSTREAM_HEADER_BYTES + 3, 1]})
    bad("flipped-other-stanza", "integrity",
        "a byte of a throwaway stanza flipped: ours still opens, but the first message's AD "
        "(SHA-256 of every byte before it) no longer matches", {"xor": [other * 80 + 50, 1]})
    bad("representative-top-bits", "integrity",
        "the two top bits of our own stanza's representative flipped: the stanza still opens, "
        "the AD catches it", {"xor": [own * 80 + 31, 0xC0]})
    bad("flipped-own-stanza", "trust", "a MAC byte of our own stanza flipped: no stanza opens",
        {"xor": [own * 80 + 40, 1]})
    bad("truncated-one-byte", "integrity", "the last byte cut off: the size rule fails before "
        "anything is decrypted", {"truncate": len(data) - 1})
    bad("truncated-to-prefix", "integrity", "only the stanzas and the header", {"truncate": prefix_len})
    bad("appended-byte", "integrity", "one zero byte after the final message", {"append": "00"})
    bad("appended-message", "integrity",
        "the sealed message repeated: the size rule holds, but the first message carries "
        "TAG_FINAL and another follows", {"append_copy": [prefix_len, len(data)]})
    bad("not-addressed-to-us", "trust", "read with a box key that none of the stanzas is sealed to",
        {}, box_secret=h(STRANGER.box_secret))
    bad("read-by-archivist", "ok",
        "the same bundle read by the other recipient, whose stanza is another slot", {},
        box_secret=h(ARCHIVIST.box_secret))
    bad("unknown-sender", "trust",
        "the reader has not pinned the sender: refused after the SIGNATURE frame, before the "
        "manifest is read", {}, pinned=_pinned((LAWYER, None)))
    bad("revoked-sender", "trust", "the sender's key was revoked here", {},
        pinned=_pinned((AUTHOR, "2024-03-15T00:00:00Z")))


def generate() -> dict[str, str]:
    canonical_json()
    times()
    tables()
    identities()
    secret_key_file()
    field_digests()
    statements()
    envelopes()
    chunk_vectors()
    packs()
    index_vectors()
    text_headers()
    hidden_seals()
    custody_events()
    revocations()
    sshsig_vectors()
    tree_heads()
    merkle_vectors()
    inclusion_vectors()
    consistency_vectors()
    manifests()
    bundles()
    disclosure_choices()
    disclosure_packages()
    return {f"{name}.json": json.dumps(c, indent=2, ensure_ascii=False) + "\n" for name, c in CASES.items()}


def main(argv: list[str]) -> int:
    files = generate()
    existing = {p.name for p in HERE.glob("*.json")}
    if "--check" in argv:
        stale = sorted(n for n, text in files.items()
                       if not (HERE / n).exists() or (HERE / n).read_text(encoding="utf-8") != text)
        stale += sorted(existing - set(files))
        for n in stale:
            print(f"would change: {n}")
        return 1 if stale else 0
    for n in existing - set(files):
        (HERE / n).unlink()
    for n, text in files.items():
        (HERE / n).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} vectors to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
