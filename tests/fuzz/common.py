"""What a fuzz input means, for each harness: fixed test identities and input framings.

Shared by the harnesses (fuzz_*.py), make_corpus.py and test_regressions.py, so that a
seed, a crash file and a regression test all mean the same thing. It does not fuzz
anything itself, and it holds no real secret: every key below is derived from a public
label (SHA-256 of "testimony fuzz test key" and a name) and must never protect anything.

Most formats are authenticated: a random mutation of a sealed bundle or envelope dies
at the first tag check. So, besides feeding raw bytes, the harnesses let the fuzzer
write the plaintext and seal it here with the library's own functions under the fixed
keys, which takes the input past the cryptography and into the parsers behind it. The
first byte of every input (except the card's) chooses that mode.

Import this module inside `atheris.instrument_imports()`: it imports `archive`.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from archive import constants as C
from archive import crypto
from archive.encoding import pad_to_multiple, u32
from archive.keys import SecretKeys, sign_card
from archive.records import seal_envelope

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
REGRESSIONS_DIR = FUZZ_DIR / "regressions"
PACKAGE_DIR = FUZZ_DIR / "package"          # the valid disclosure package the harness varies
TARGETS = ("bundle", "envelope", "card", "secret_key", "disclosure")

TEST_PASSPHRASE = b"correct staple violet harbour 1947"   # as in tests/conftest.py
CREATED = "2024-05-03T09:00:00Z"


def test_secret(*parts: str) -> bytes:
    """32 bytes derived from a public label: a test key, deterministic, never secret."""
    return hashlib.sha256("\0".join(("testimony fuzz test key", *parts)).encode()).digest()


def test_identity(name: str) -> SecretKeys:
    """A deterministic identity, made with the library's own `sign_card`."""
    seed, box_secret = test_secret(name, "sign"), test_secret(name, "box")
    card = sign_card(seed, box_secret, name=f"{name} (fuzz test key)", created=CREATED)
    return SecretKeys(seed, box_secret, test_secret(name, "convergence"), test_secret(name, "index"),
                      card)


FIELD = test_identity("field")        # author of records, sender of bundles
ARCHIVE = test_identity("archive")    # recipient of envelopes and bundles, writer of the package


def frame(frame_type: int, body: bytes) -> bytes:
    """A bundle frame (format.md §17.3): u8 type ‖ u32 length ‖ body."""
    return bytes([frame_type]) + u32(len(body)) + body


def split_u32(data: bytes) -> tuple[bytes, bytes]:
    """`u32 n ‖ n bytes ‖ rest` → (the n bytes, rest); a short input just gives less."""
    n = int.from_bytes(data[:4], "big")
    return data[4:4 + n], data[4 + n:]


# --- bundle (fuzz_bundle.py) -------------------------------------------------------------------
# byte 0 % 5 chooses:
#   0 RAW             the rest is the whole bundle file, as found on a stick
#   1 PLAIN           the rest is the plaintext frame stream; sealed here to ARCHIVE
#   2 PLAIN_LENIENT   the same, read as `bundle inspect` reads (manifest parsed before the
#                     signature is checked, with the manifest's own key)
#   3 SIGNED          the rest is `u32 n ‖ manifest (n bytes) ‖ frames after the MANIFEST`;
#                     the SIGNATURE and MANIFEST frames are made here, signed by FIELD, so
#                     the manifest parser and the object frames are reached
#   4 SIGNED_LENIENT  the same, read as `bundle inspect` reads

BUNDLE_RAW, BUNDLE_PLAIN, BUNDLE_PLAIN_LENIENT, BUNDLE_SIGNED, BUNDLE_SIGNED_LENIENT = range(5)
BUNDLE_KEY = test_secret("bundle key")
_bundle_stanzas: bytes | None = None


def bundle_stanzas() -> bytes:
    """Four hidden-sealed stanzas of BUNDLE_KEY: ARCHIVE's first, then three throwaway
    keys (made once per process: the ephemeral keys are random)."""
    global _bundle_stanzas
    if _bundle_stanzas is None:
        keys = [ARCHIVE.card.box_key] + [crypto.box_public_key(test_secret("throwaway", str(i)))
                                         for i in range(C.BUNDLE_STANZAS - 1)]
        _bundle_stanzas = b"".join(crypto.hidden_seal_to(k, BUNDLE_KEY) for k in keys)
    return _bundle_stanzas


def seal_bundle_plaintext(plain: bytes) -> bytes:
    """A bundle file whose plaintext is `plain`, zero-padded to whole messages, with the
    layout of format.md §17.2 (first message's AD, FINAL on the last)."""
    sealer = crypto.StreamSealer(BUNDLE_KEY)
    prefix = bundle_stanzas() + sealer.header
    messages = max(1, -(-len(plain) // C.BUNDLE_MESSAGE_BYTES))
    plain = plain + bytes(messages * C.BUNDLE_MESSAGE_BYTES - len(plain))
    out = [prefix]
    ad: bytes | None = hashlib.sha256(prefix).digest()
    for i in range(messages):
        out.append(sealer.push(plain[i * C.BUNDLE_MESSAGE_BYTES:(i + 1) * C.BUNDLE_MESSAGE_BYTES],
                               ad=ad, final=i == messages - 1))
        ad = None
    return b"".join(out)


def signed_frames(manifest: bytes) -> bytes:
    """SIGNATURE and MANIFEST frames for `manifest`, signed by FIELD."""
    signature = crypto.sign(FIELD.sign_seed, purpose=C.BUNDLE, message=manifest)
    return (frame(C.FRAME_SIGNATURE, bytes.fromhex(FIELD.card.fingerprint) + signature)
            + frame(C.FRAME_MANIFEST, manifest))


def bundle_from_input(data: bytes) -> tuple[bytes, bool] | None:
    """(bundle file bytes, lenient) for a fuzz input, or None for an empty one."""
    if not data:
        return None
    mode, rest = data[0] % 5, data[1:]
    lenient = mode in (BUNDLE_PLAIN_LENIENT, BUNDLE_SIGNED_LENIENT)
    if mode == BUNDLE_RAW:
        return rest, False
    if mode in (BUNDLE_PLAIN, BUNDLE_PLAIN_LENIENT):
        return seal_bundle_plaintext(rest), lenient
    manifest, after = split_u32(rest)
    return seal_bundle_plaintext(signed_frames(manifest) + after), lenient


def signed_bundle_input(manifest: bytes, after: bytes, *, lenient: bool = False) -> bytes:
    return bytes([BUNDLE_SIGNED_LENIENT if lenient else BUNDLE_SIGNED]) + u32(len(manifest)) \
        + manifest + after


# --- envelope (fuzz_envelope.py) -----------------------------------------------------------------
# byte 0 % 3 chooses:
#   0 RAW      the rest is the whole envelope, opened with ARCHIVE's box secret
#   1 PAYLOAD  the rest is the decrypted payload (u32 length ‖ body ‖ zeros); sealed here
#   2 BODY     the rest is the payload body (canonical JSON); framed, padded and sealed here

ENVELOPE_RAW, ENVELOPE_PAYLOAD, ENVELOPE_BODY = range(3)
ENVELOPE_DATA_KEY = test_secret("envelope data key")
ENVELOPE_NONCE = test_secret("envelope nonce")[:C.XCHACHA_NONCE_BYTES]


def frame_payload(body: bytes) -> bytes:
    """u32(len) ‖ body ‖ the fewest zeros to a multiple of 1 KiB (format.md §8)."""
    framed = u32(len(body)) + body
    return framed + bytes(pad_to_multiple(len(framed), C.ENVELOPE_PAD_MULTIPLE) - len(framed))


def seal_payload(payload: bytes) -> bytes:
    """An envelope of `payload` to FIELD and ARCHIVE, with the library's seal_envelope."""
    return seal_envelope(payload, [FIELD.card.box_key, ARCHIVE.card.box_key],
                         data_key=ENVELOPE_DATA_KEY, nonce=ENVELOPE_NONCE)


def envelope_from_input(data: bytes) -> bytes | None:
    if not data:
        return None
    mode, rest = data[0] % 3, data[1:]
    if mode == ENVELOPE_RAW:
        return rest
    if mode == ENVELOPE_PAYLOAD:
        return seal_payload(rest)
    return seal_payload(frame_payload(rest))


# --- secret key file (fuzz_secret_key.py) -------------------------------------------------------
# byte 0 % 2 chooses:
#   0 FILE     the rest is the whole key file
#   1 PAYLOAD  the rest is the decrypted payload (four secrets ‖ card); sealed here under
#              the fixed header below
# Argon2id costs ~0.1 s and 64 MiB a call even with the `interactive` profile, so only a
# file whose header (costs and salt) is exactly KEYFILE_HEADER goes on to derivation, and
# that one derivation is made once and remembered (`remembered_kdf`). Every other input
# stops after the header and bounds checks, which run before any derivation.

KEYFILE_FILE, KEYFILE_PAYLOAD = range(2)
KEYFILE_OPSLIMIT, KEYFILE_MEMLIMIT = C.KDF_PROFILES["interactive"]
KEYFILE_SALT = test_secret("key file salt")[:C.SALT_BYTES]
KEYFILE_NONCE = test_secret("key file nonce")[:C.XCHACHA_NONCE_BYTES]
KEYFILE_HEADER = C.SECRET_KEY_MAGIC + u32(KEYFILE_OPSLIMIT) + u32(KEYFILE_MEMLIMIT) + KEYFILE_SALT
_derived: dict[tuple, bytes] = {}


@contextmanager
def remembered_kdf() -> Iterator[None]:
    """Within the block, `crypto.argon2id` on the fixed passphrase and header returns the
    key it derived the first time (the same bytes: a cache, not a stub). Any other
    derivation is a harness bug: only KEYFILE_HEADER inputs are let through."""
    real = crypto.argon2id

    def argon2id(passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int) -> bytes:
        key = (passphrase, salt, opslimit, memlimit)
        if key != (TEST_PASSPHRASE, KEYFILE_SALT, KEYFILE_OPSLIMIT, KEYFILE_MEMLIMIT):
            raise RuntimeError("fuzz harness: derivation outside the fixed key file header")
        if key not in _derived:
            _derived[key] = real(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
        return _derived[key]

    crypto.argon2id = argon2id
    try:
        yield
    finally:
        crypto.argon2id = real


def keyfile_payload(keys: SecretKeys) -> bytes:
    return keys.sign_seed + keys.box_secret + keys.convergence_secret + keys.index_key + keys.card.to_bytes()


def seal_keyfile_payload(payload: bytes) -> bytes:
    with remembered_kdf():
        key = crypto.argon2id(TEST_PASSPHRASE, KEYFILE_SALT, opslimit=KEYFILE_OPSLIMIT,
                              memlimit=KEYFILE_MEMLIMIT)
    nonce, sealed = crypto.xchacha_encrypt(key, payload, aad=KEYFILE_HEADER, nonce=KEYFILE_NONCE)
    return KEYFILE_HEADER + nonce + sealed


def keyfile_from_input(data: bytes) -> bytes | None:
    if not data:
        return None
    return data[1:] if data[0] % 2 == KEYFILE_FILE else seal_keyfile_payload(data[1:])


# --- disclosure package (fuzz_disclosure.py) -------------------------------------------------------
# byte 0 chooses one file of the package in PACKAGE_DIR (index byte % the number of
# files, in sorted path order); the rest becomes that file's content. Unless the chosen
# file is SHA256SUMS, SHA256SUMS is rewritten to match, so the input reaches the checks
# after `files` instead of failing its hash.

def package_paths(folder: Path = PACKAGE_DIR) -> list[str]:
    """The package's files, relative, with `/`, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def disclosure_input(paths: list[str], path: str, content: bytes) -> bytes:
    return bytes([paths.index(path)]) + content


def disclosure_from_input(paths: list[str], data: bytes) -> tuple[str, bytes] | None:
    if not data:
        return None
    return paths[data[0] % len(paths)], data[1:]
