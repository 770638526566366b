"""The only module that touches PyNaCl, pyca/cryptography and Monocypher.

A few verbs over their high-level APIs. Every signature, keyed hash and derived key
is domain-separated by a label from archive.constants. No primitive is written here:
Ed25519, X25519 boxes, Argon2id and XChaCha20-Poly1305 come from libsodium; the
Elligator 2 map that hides bundle stanzas' ephemeral keys from Monocypher;
AES-256-GCM and HKDF from OpenSSL; SHA-256 and HMAC from hashlib/hmac (OpenSSL).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets

import monocypher

import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.public
import nacl.signing
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import constants as C
from .errors import IntegrityError, SignatureError

SIGNATURE_BYTES = 64
_ZERO_GCM_NONCE = bytes(12)


def _require_label(purpose: bytes) -> bytes:
    if purpose not in C.ALL_LABELS:
        raise ValueError("purpose must be one of the labels in archive.constants")
    return purpose


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def labelled_hash(purpose: bytes, *parts: bytes) -> bytes:
    """SHA-256(label ‖ parts...)."""
    h = hashlib.sha256(_require_label(purpose))
    for part in parts:
        h.update(part)
    return h.digest()


def keyed_hash(key: bytes, purpose: bytes, data: bytes) -> bytes:
    """HMAC-SHA256(key, label ‖ data)."""
    mac = hmac.new(key, _require_label(purpose), "sha256")
    mac.update(data)
    return mac.digest()


def derive_key(root: bytes, purpose: bytes) -> bytes:
    """HKDF-SHA256(root, salt=none, info=label) → 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=C.KEY_BYTES, salt=None,
                info=_require_label(purpose)).derive(root)


# --- Ed25519 -------------------------------------------------------------------------

def new_signing_seed() -> bytes:
    return random_bytes(32)


def signing_public_key(seed: bytes) -> bytes:
    return bytes(nacl.signing.SigningKey(seed).verify_key)


@functools.lru_cache(maxsize=4)
def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    # Deriving the key pair from the seed costs a scalar multiplication: do it once per
    # identity, not once per signature (`add` signs two things per file).
    return nacl.signing.SigningKey(seed)


def sign(seed: bytes, *, purpose: bytes, message: bytes) -> bytes:
    """Ed25519 signature over label ‖ message."""
    return _signing_key(bytes(seed)).sign(_require_label(purpose) + message).signature


def _ed25519_verify(public_key: bytes, message: bytes, *, signature: bytes) -> bytes:
    """The one Ed25519 check (libsodium's strict rules) over raw bytes; returns the message.

    Private: callers use `verify` (label ‖ message) or `verify_sshsig`. It exists so that
    the Wycheproof vectors (tests/wycheproof/), which sign raw messages, run through the
    same call as every signature the archive checks.
    """
    try:
        key = nacl.signing.VerifyKey(bytes(public_key))
        return key.verify(bytes(message), bytes(signature))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError, ValueError, TypeError) as e:
        raise SignatureError("signature does not verify") from e


def verify(public_key: bytes, *, purpose: bytes, message: bytes, signature: bytes) -> bytes:
    """Ed25519 check of a signature over label ‖ message; returns the verified message."""
    label = _require_label(purpose)
    try:
        signed = label + bytes(message)
    except (ValueError, TypeError) as e:  # a message that is not bytes never verifies
        raise SignatureError("signature does not verify") from e
    return _ed25519_verify(public_key, signed, signature=signature)[len(label):]


# --- X25519 sealed boxes (anonymous recipient stanzas) -------------------------------

def new_box_secret() -> bytes:
    return bytes(nacl.public.PrivateKey.generate())


def box_public_key(secret: bytes) -> bytes:
    return bytes(nacl.public.PrivateKey(secret).public_key)


@functools.lru_cache(maxsize=4)
def _own_box_public_key(secret: bytes) -> bytes:
    # Opening tries every stanza of every envelope and bundle with the same secret:
    # derive its public half once, not once per attempt.
    return box_public_key(secret)


def seal_to(box_public: bytes, data: bytes) -> bytes:
    return nacl.bindings.crypto_box_seal(data, bytes(box_public))


@functools.lru_cache(maxsize=1)
def throwaway_box_keys() -> tuple[bytes, ...]:
    """Public keys whose secrets were discarded at once, for the unused stanza slots.

    A sealed box never reveals its recipient's key, so these can be reused across
    envelopes in one process: what matters is that nobody can open those slots.
    """
    return tuple(box_public_key(new_box_secret()) for _ in range(64))


def open_sealed(box_secret: bytes, sealed: bytes) -> bytes | None:
    """Open a sealed box, or None when it is not for this key (callers try each slot)."""
    try:
        return nacl.bindings.crypto_box_seal_open(bytes(sealed), _own_box_public_key(bytes(box_secret)),
                                                  bytes(box_secret))
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return None


# --- XChaCha20-Poly1305 ----------------------------------------------------------------

def xchacha_encrypt(key: bytes, plaintext: bytes, *, aad: bytes,
                    nonce: bytes | None = None) -> tuple[bytes, bytes]:
    """Return (nonce, ciphertext‖tag). The nonce is random unless a test vector fixes it."""
    if nonce is None:
        nonce = random_bytes(C.XCHACHA_NONCE_BYTES)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
    return nonce, ct


def xchacha_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, *, aad: bytes, what: str) -> bytes:
    # Short input is untrusted data (a damaged index row), not our bug: one IntegrityError.
    if len(nonce) != C.XCHACHA_NONCE_BYTES or len(ciphertext) < 16:
        raise IntegrityError(f"{what} failed authentication")
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(ciphertext), bytes(aad), bytes(nonce), key)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as e:
        raise IntegrityError(f"{what} failed authentication") from e


# --- Argon2id --------------------------------------------------------------------------

def argon2id(passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int) -> bytes:
    if not (C.OPSLIMIT_MIN <= opslimit <= C.OPSLIMIT_MAX
            and C.MEMLIMIT_MIN <= memlimit <= C.MEMLIMIT_MAX):
        raise ValueError("Argon2id parameters out of bounds")  # callers check first
    return nacl.pwhash.argon2id.kdf(C.KEY_BYTES, passphrase, salt,
                                    opslimit=opslimit, memlimit=memlimit)


# --- Convergent chunk encryption -------------------------------------------------------

class ChunkKeyer:
    """HMAC-SHA256(convergence_secret, chunk label ‖ chunk), with the label absorbed once.

    Copying the keyed state saves re-hashing the key and the label for every chunk,
    and avoids building label+chunk copies of 1 MiB buffers.
    """

    def __init__(self, convergence_secret: bytes) -> None:
        self._base = hmac.new(convergence_secret, C.CHUNK, "sha256")

    def key_for(self, chunk: bytes | memoryview) -> bytes:
        mac = self._base.copy()
        mac.update(chunk)
        return mac.digest()


def _aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes | memoryview, *, aad: bytes) -> bytes:
    """AES-GCM → ciphertext‖tag. Private: the archive calls it only through chunk_encrypt;
    tests/wycheproof/ calls it with the vectors' keys and nonces."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def _aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, *, aad: bytes, what: str) -> bytes:
    """AES-GCM open, or one IntegrityError (a bad tag, or a nonce/ciphertext it cannot take)."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as e:
        raise IntegrityError(f"{what} failed authentication") from e


def chunk_encrypt(key: bytes, chunk: bytes | memoryview) -> bytes:
    """AES-256-GCM with a fixed zero nonce: safe because the key is unique to the plaintext."""
    return _aes_gcm_encrypt(key, _ZERO_GCM_NONCE, chunk, aad=C.CHUNK_AAD)


def chunk_decrypt(key: bytes, obj: bytes) -> bytes:
    return _aes_gcm_decrypt(key, _ZERO_GCM_NONCE, obj, aad=C.CHUNK_AAD, what="an evidence chunk")


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# --- Hidden sealed boxes (bundle stanzas) ----------------------------------------------
# A libsodium sealed box sends its ephemeral X25519 public key in clear, and such keys
# are distinguishable from random (about half of all 32-byte strings are not on the
# curve, and the top bit is always clear). Bundles must look like random bytes, so the
# ephemeral key travels as its Elligator 2 representative (Monocypher), which is
# uniformly random. The rest is exactly crypto_box_seal: crypto_box with the nonce
# BLAKE2b-192(ephemeral public ‖ recipient public).

HIDDEN_SEAL_BYTES = 32 + 16 + 32


def hidden_seal_to(box_public: bytes, data: bytes) -> bytes:
    hidden, ephemeral_secret = monocypher.elligator_key_pair()
    ephemeral_public = monocypher.elligator_map(hidden)
    nonce = hashlib.blake2b(ephemeral_public + box_public, digest_size=24).digest()
    return hidden + nacl.bindings.crypto_box(data, nonce, box_public, ephemeral_secret)


def hidden_open(box_secret: bytes, stanza: bytes) -> bytes | None:
    """Open a hidden sealed box, or None when it is not for this key."""
    ephemeral_public = monocypher.elligator_map(bytes(stanza[:32]))
    own_public = _own_box_public_key(bytes(box_secret))
    nonce = hashlib.blake2b(ephemeral_public + own_public, digest_size=24).digest()
    try:
        return nacl.bindings.crypto_box_open(bytes(stanza[32:]), nonce, ephemeral_public, box_secret)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, nacl.exceptions.RuntimeError):
        return None


# --- secretstream (bundle bodies) ------------------------------------------------------

class StreamSealer:
    """XChaCha20-Poly1305 secretstream, push side."""

    def __init__(self, key: bytes) -> None:
        self._state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        self.header = nacl.bindings.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)

    def push(self, message: bytes, *, ad: bytes | None, final: bool) -> bytes:
        tag = (nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL if final
               else nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return nacl.bindings.crypto_secretstream_xchacha20poly1305_push(self._state, message, ad, tag)


class StreamOpener:
    """XChaCha20-Poly1305 secretstream, pull side. Returns (message, is_final)."""

    def __init__(self, key: bytes, header: bytes) -> None:
        self._state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        try:
            nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(self._state, bytes(header), key)
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as e:
            raise IntegrityError("bundle failed authentication") from e

    def pull(self, ciphertext: bytes, *, ad: bytes | None) -> tuple[bytes, bool]:
        try:
            message, tag = nacl.bindings.crypto_secretstream_xchacha20poly1305_pull(
                self._state, bytes(ciphertext), ad)
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, RuntimeError) as e:
            raise IntegrityError("bundle failed authentication") from e
        final = tag == nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        if not final and tag != nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE:
            raise IntegrityError("bundle failed authentication")
        return message, final


def shuffle(items: list) -> None:
    """In-place shuffle from the OS's CSPRNG (slot order must not reveal the author)."""
    secrets.SystemRandom().shuffle(items)


# --- OpenSSH signatures ------------------------------------------------------------------
# SSHSIG carries its own domain separation (the "SSHSIG" preamble and a namespace), which
# is why these two take no label; they refuse anything that is not SSHSIG signed data.

def sign_sshsig(seed: bytes, signed_data: bytes) -> bytes:
    if not signed_data.startswith(b"SSHSIG"):
        raise ValueError("only SSHSIG signed data")
    return _signing_key(bytes(seed)).sign(signed_data).signature


def verify_sshsig(public_key: bytes, signed_data: bytes, signature: bytes) -> None:
    if not signed_data.startswith(b"SSHSIG"):
        raise ValueError("only SSHSIG signed data")
    _ed25519_verify(public_key, signed_data, signature=signature)
