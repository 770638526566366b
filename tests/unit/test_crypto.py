"""archive.crypto: the few verbs over libsodium and OpenSSL, and their failure modes."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from archive import constants as C
from archive import crypto
from archive.errors import IntegrityError, SignatureError

ROOT = Path(__file__).resolve().parents[2]
SEED = bytes(range(32))
ED25519_L = 2**252 + 27742317777372353535851937790883648493


# --- hashing and derivation -------------------------------------------------------------------

def test_labelled_hash_is_sha256_of_label_and_parts():
    assert crypto.labelled_hash(C.RECORD, b"ab", b"cd") == hashlib.sha256(C.RECORD + b"abcd").digest()


def test_labelled_hash_differs_by_label():
    outputs = {crypto.labelled_hash(label, b"same") for label in C.ALL_LABELS}
    assert len(outputs) == len(C.ALL_LABELS)


@pytest.mark.parametrize("purpose", [b"", b"testimony/v1/record", b"testimony/v1/unknown\0", b"record"])
def test_every_verb_refuses_a_purpose_that_is_not_a_label(purpose):
    with pytest.raises(ValueError):
        crypto.labelled_hash(purpose, b"x")
    with pytest.raises(ValueError):
        crypto.keyed_hash(bytes(32), purpose, b"x")
    with pytest.raises(ValueError):
        crypto.derive_key(bytes(32), purpose)
    with pytest.raises(ValueError):
        crypto.sign(SEED, purpose=purpose, message=b"x")
    with pytest.raises(ValueError):
        crypto.verify(bytes(32), purpose=purpose, message=b"x", signature=bytes(64))


def test_keyed_hash_is_hmac_over_label_and_data():
    key = bytes(range(32))
    expected = hmac.new(key, C.INDEX_DEDUP + b"data", "sha256").digest()
    assert crypto.keyed_hash(key, C.INDEX_DEDUP, b"data") == expected
    assert crypto.keyed_hash(bytes(32), C.INDEX_DEDUP, b"data") != expected


def test_derive_key_is_deterministic_and_separated():
    root = bytes(range(32))
    a = crypto.derive_key(root, C.INDEX_META)
    assert len(a) == 32
    assert a == crypto.derive_key(root, C.INDEX_META)
    assert a != crypto.derive_key(root, C.INDEX_DEDUP)
    assert a != crypto.derive_key(bytes(32), C.INDEX_META)


# --- Ed25519 ------------------------------------------------------------------------------------

def test_sign_verify_returns_the_message():
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"hello")
    assert len(sig) == crypto.SIGNATURE_BYTES
    public = crypto.signing_public_key(SEED)
    assert crypto.verify(public, purpose=C.STATEMENT, message=b"hello", signature=sig) == b"hello"


def test_signature_is_over_label_and_message():
    import nacl.signing
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"m")
    nacl.signing.VerifyKey(crypto.signing_public_key(SEED)).verify(C.STATEMENT + b"m", sig)


def test_verify_refuses_another_purpose():
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"m")
    with pytest.raises(SignatureError):
        crypto.verify(crypto.signing_public_key(SEED), purpose=C.IDENTITY, message=b"m", signature=sig)


def test_verify_refuses_changed_message_and_other_key():
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"m")
    public = crypto.signing_public_key(SEED)
    with pytest.raises(SignatureError):
        crypto.verify(public, purpose=C.STATEMENT, message=b"n", signature=sig)
    other = crypto.signing_public_key(bytes(32))
    with pytest.raises(SignatureError):
        crypto.verify(other, purpose=C.STATEMENT, message=b"m", signature=sig)


def test_verify_every_single_bit_flip_of_a_signature_fails():
    public = crypto.signing_public_key(SEED)
    sig = crypto.sign(SEED, purpose=C.BUNDLE, message=b"manifest")
    for bit in range(len(sig) * 8):
        bad = bytearray(sig)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureError):
            crypto.verify(public, purpose=C.BUNDLE, message=b"manifest", signature=bytes(bad))


@pytest.mark.parametrize("public, signature", [
    (bytes(31), bytes(64)), (bytes(33), bytes(64)), (None, bytes(64)),
    ("00" * 32, bytes(64)),
])
def test_verify_malformed_inputs_are_signature_errors(public, signature):
    with pytest.raises(SignatureError):
        crypto.verify(public, purpose=C.STATEMENT, message=b"m", signature=signature)


@pytest.mark.parametrize("length", [0, 63, 65])
def test_verify_refuses_signatures_of_the_wrong_length(length):
    public = crypto.signing_public_key(SEED)
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"m")
    with pytest.raises(SignatureError):
        crypto.verify(public, purpose=C.STATEMENT, message=b"m", signature=(sig * 2)[:length])


def test_verify_refuses_malleated_s():
    """Strict rules: S + L verifies under a lax check but is not canonical."""
    public = crypto.signing_public_key(SEED)
    sig = crypto.sign(SEED, purpose=C.STATEMENT, message=b"m")
    s = int.from_bytes(sig[32:], "little") + ED25519_L
    assert s < 2**256
    malleated = sig[:32] + s.to_bytes(32, "little")
    with pytest.raises(SignatureError):
        crypto.verify(public, purpose=C.STATEMENT, message=b"m", signature=malleated)


def test_verify_refuses_small_order_key_and_identity_signature():
    """Public key and R at the identity point, S = 0: valid for any message under lax rules."""
    identity = b"\x01" + bytes(31)
    with pytest.raises(SignatureError):
        crypto.verify(identity, purpose=C.STATEMENT, message=b"anything", signature=identity + bytes(32))


# --- sealed boxes -------------------------------------------------------------------------------

def test_sealed_box_round_trip_and_wrong_key():
    secret, other = crypto.new_box_secret(), crypto.new_box_secret()
    sealed = crypto.seal_to(crypto.box_public_key(secret), b"k" * 32)
    assert len(sealed) == C.SEALED_BOX_BYTES
    assert crypto.open_sealed(secret, sealed) == b"k" * 32
    assert crypto.open_sealed(other, sealed) is None


@pytest.mark.parametrize("sealed", [b"", bytes(10), bytes(C.SEALED_BOX_BYTES), b"\xff" * 200])
def test_open_sealed_garbage_is_none(sealed):
    assert crypto.open_sealed(crypto.new_box_secret(), sealed) is None


def test_open_sealed_bit_flip_is_none():
    secret = crypto.new_box_secret()
    sealed = crypto.seal_to(crypto.box_public_key(secret), b"k" * 32)
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x80
        assert crypto.open_sealed(secret, bytes(bad)) is None


def test_sealed_boxes_are_randomised():
    public = crypto.box_public_key(crypto.new_box_secret())
    assert crypto.seal_to(public, b"x") != crypto.seal_to(public, b"x")


# --- XChaCha20-Poly1305 -------------------------------------------------------------------------

def test_xchacha_round_trip_and_failures():
    key = bytes(range(32))
    nonce, ct = crypto.xchacha_encrypt(key, b"plain", aad=b"head")
    assert len(nonce) == C.XCHACHA_NONCE_BYTES and len(ct) == 5 + 16
    assert crypto.xchacha_decrypt(key, nonce, ct, aad=b"head", what="t") == b"plain"
    with pytest.raises(IntegrityError, match="t failed"):
        crypto.xchacha_decrypt(key, nonce, ct, aad=b"other", what="t")
    with pytest.raises(IntegrityError):
        crypto.xchacha_decrypt(bytes(32), nonce, ct, aad=b"head", what="t")
    with pytest.raises(IntegrityError):
        crypto.xchacha_decrypt(key, bytes(24), ct, aad=b"head", what="t")
    with pytest.raises(IntegrityError):
        crypto.xchacha_decrypt(key, nonce, ct[:-1], aad=b"head", what="t")
    with pytest.raises(IntegrityError):
        crypto.xchacha_decrypt(key, nonce, b"", aad=b"head", what="t")


def test_xchacha_nonces_are_random_unless_fixed():
    key = bytes(32)
    assert crypto.xchacha_encrypt(key, b"x", aad=b"")[0] != crypto.xchacha_encrypt(key, b"x", aad=b"")[0]
    fixed = bytes(range(24))
    assert crypto.xchacha_encrypt(key, b"x", aad=b"", nonce=fixed) == \
        crypto.xchacha_encrypt(key, b"x", aad=b"", nonce=fixed)


# --- Argon2id -----------------------------------------------------------------------------------

@pytest.mark.parametrize("opslimit, memlimit", [
    (1, C.MEMLIMIT_MIN), (9, C.MEMLIMIT_MIN), (2, C.MEMLIMIT_MIN - 1), (2, C.MEMLIMIT_MAX + 1),
    (0, 0), (2**32 - 1, 2**32 - 1),
])
def test_argon2id_refuses_parameters_out_of_bounds(opslimit, memlimit):
    with pytest.raises(ValueError):
        crypto.argon2id(b"passphrase", bytes(16), opslimit=opslimit, memlimit=memlimit)


def test_argon2id_is_deterministic_per_salt():
    ops, mem = C.KDF_PROFILES["interactive"]
    a = crypto.argon2id(b"passphrase", bytes(16), opslimit=ops, memlimit=mem)
    assert len(a) == 32
    assert a == crypto.argon2id(b"passphrase", bytes(16), opslimit=ops, memlimit=mem)
    assert a != crypto.argon2id(b"passphrase", b"\x01" * 16, opslimit=ops, memlimit=mem)


# --- chunks -------------------------------------------------------------------------------------

def test_chunk_keyer_is_hmac_of_label_and_chunk():
    secret = bytes(range(32))
    keyer = crypto.ChunkKeyer(secret)
    assert keyer.key_for(b"data") == hmac.new(secret, C.CHUNK + b"data", "sha256").digest()
    assert keyer.key_for(memoryview(b"data")) == keyer.key_for(b"data")
    # The copied state must not accumulate between chunks.
    assert keyer.key_for(b"a") == keyer.key_for(b"a")
    assert crypto.ChunkKeyer(bytes(32)).key_for(b"data") != keyer.key_for(b"data")


def test_chunk_encryption_is_deterministic_and_authenticated():
    key = crypto.ChunkKeyer(bytes(32)).key_for(b"chunk")
    obj = crypto.chunk_encrypt(key, b"chunk")
    assert obj == crypto.chunk_encrypt(key, b"chunk")
    assert len(obj) == 5 + C.GCM_TAG_BYTES
    assert crypto.chunk_decrypt(key, obj) == b"chunk"
    with pytest.raises(IntegrityError):
        crypto.chunk_decrypt(bytes(32), obj)
    for i in range(len(obj)):
        bad = bytearray(obj)
        bad[i] ^= 1
        with pytest.raises(IntegrityError):
            crypto.chunk_decrypt(key, bytes(bad))
    with pytest.raises(IntegrityError):
        crypto.chunk_decrypt(key, b"")


def test_constant_time_equal():
    assert crypto.constant_time_equal(b"ab", b"ab")
    assert not crypto.constant_time_equal(b"ab", b"ac")
    assert not crypto.constant_time_equal(b"ab", b"abc")


# --- who may touch the primitives ---------------------------------------------------------------

_PRIMITIVE_IMPORT = re.compile(r"^\s*(import|from)\s+(nacl|cryptography)\b", re.M)


def test_only_crypto_imports_nacl_or_cryptography():
    offenders = [str(p.relative_to(ROOT)) for folder in ("archive", "cli")
                 for p in sorted((ROOT / folder).rglob("*.py"))
                 if p.name != "crypto.py" and _PRIMITIVE_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_cli_never_imports_sqlite():
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "cli").rglob("*.py"))
                 if re.search(r"^\s*(import|from)\s+(sqlite_utils|sqlite3)\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []
