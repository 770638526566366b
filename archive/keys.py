"""Identities: the public card, fingerprints, revocation certificates, the secret key file.

Pure encoders/decoders take `now`, salts and nonces as arguments; `create_identity`
and `write_secret_key_file` are the wrappers that supply randomness and touch disk.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import constants as C
from . import crypto
from .encoding import (canonical, from_hex, group_fingerprint, parse_canonical,
                       parse_time, read_u32, to_hex, u32)
from .errors import FormatError, IntegrityError, KeyAccessError, SignatureError
from .fsutil import make_private_dir, write_atomic

SECRET_FILE = "identity.secret"
REVOCATION_FILE = "revocation.cert"


def fingerprint(sign_key: bytes, box_key: bytes) -> str:
    """SHA-256(fingerprint label ‖ sign_key ‖ box_key), 64 lowercase hex digits."""
    return crypto.labelled_hash(C.FINGERPRINT, sign_key, box_key).hex()


@dataclass(frozen=True)
class IdentityCard:
    """A verified public identity card (`identity.pub`)."""

    name: str
    sign_key: bytes
    box_key: bytes
    created: str
    self_signature: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sign_key, self.box_key)

    @property
    def short_fingerprint(self) -> str:
        return group_fingerprint(self.fingerprint)

    def unsigned_dict(self) -> dict[str, Any]:
        return {"type": C.IDENTITY_TYPE, "version": C.FORMAT_VERSION, "name": self.name,
                "sign_key": to_hex(self.sign_key), "box_key": to_hex(self.box_key),
                "created": self.created}

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "self_signature": to_hex(self.self_signature)}

    def to_bytes(self) -> bytes:
        return canonical(self.to_dict())

    def author_dict(self) -> dict[str, str]:
        """The `author` object of a statement."""
        return {"name": self.name, "sign_key": to_hex(self.sign_key), "box_key": to_hex(self.box_key)}


def sign_card(seed: bytes, box_secret: bytes, *, name: str, created: str) -> IdentityCard:
    unsigned = IdentityCard(name, crypto.signing_public_key(seed),
                            crypto.box_public_key(box_secret), created, b"")
    sig = crypto.sign(seed, purpose=C.IDENTITY, message=canonical(unsigned.unsigned_dict()))
    return IdentityCard(name, unsigned.sign_key, unsigned.box_key, created, sig)


def card_from_dict(value: Any) -> IdentityCard:
    """Check an identity card's shape and self-signature."""
    expected = {"type", "version", "name", "sign_key", "box_key", "created", "self_signature"}
    if not isinstance(value, dict) or set(value) != expected:
        raise FormatError("identity card has missing or unknown fields")
    if value["type"] != C.IDENTITY_TYPE:
        raise FormatError("not a testimony identity card")
    if type(value["version"]) is not int or value["version"] != C.FORMAT_VERSION:
        raise FormatError(f"identity card version {value['version']!r} is not supported")
    if not isinstance(value["name"], str) or not value["name"]:
        raise FormatError("identity card has no name")
    card = IdentityCard(
        name=value["name"],
        sign_key=from_hex(value["sign_key"], length=32, what="sign_key"),
        box_key=from_hex(value["box_key"], length=32, what="box_key"),
        created=parse_time(value["created"], what="created"),
        self_signature=from_hex(value["self_signature"], length=64, what="self_signature"),
    )
    try:
        crypto.verify(card.sign_key, purpose=C.IDENTITY,
                      message=canonical(card.unsigned_dict()), signature=card.self_signature)
    except SignatureError as e:
        raise SignatureError("identity card self-signature does not verify") from e
    return card


def parse_card(untrusted: bytes) -> IdentityCard:
    return card_from_dict(parse_canonical(untrusted.removesuffix(b"\n"), what="identity card"))


def revocation_certificate(seed: bytes, card: IdentityCard, *, created: str) -> bytes:
    """A signed statement that this key must no longer be trusted, made ahead of need."""
    body = {"type": C.REVOCATION_TYPE, "version": C.FORMAT_VERSION,
            "fingerprint": card.fingerprint, "sign_key": to_hex(card.sign_key),
            "box_key": to_hex(card.box_key), "created": created}
    sig = crypto.sign(seed, purpose=C.REVOCATION, message=canonical(body))
    return canonical({**body, "signature": to_hex(sig)})


def parse_revocation(untrusted: bytes) -> dict[str, Any]:
    value = parse_canonical(untrusted.removesuffix(b"\n"), what="revocation certificate")
    expected = {"type", "version", "fingerprint", "sign_key", "box_key", "created", "signature"}
    if not isinstance(value, dict) or set(value) != expected or value["type"] != C.REVOCATION_TYPE:
        raise FormatError("not a testimony revocation certificate")
    if type(value["version"]) is not int or value["version"] != C.FORMAT_VERSION:
        raise FormatError(f"revocation version {value['version']!r} is not supported")
    sign_key = from_hex(value["sign_key"], length=32, what="sign_key")
    box_key = from_hex(value["box_key"], length=32, what="box_key")
    if value["fingerprint"] != fingerprint(sign_key, box_key):
        raise FormatError("revocation certificate names the wrong fingerprint")
    parse_time(value["created"], what="created")
    body = {k: v for k, v in value.items() if k != "signature"}
    crypto.verify(sign_key, purpose=C.REVOCATION, message=canonical(body),
                  signature=from_hex(value["signature"], length=64, what="signature"))
    return value


# --- The secret key file ---------------------------------------------------------------

@dataclass(frozen=True)
class SecretKeys:
    """Everything `identity.secret` seals. Never logged, never written in clear."""

    sign_seed: bytes
    box_secret: bytes
    convergence_secret: bytes
    index_key: bytes
    card: IdentityCard

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        return f"SecretKeys(fingerprint={self.card.fingerprint[:16]}…)"


_HEADER_LEN = len(C.SECRET_KEY_MAGIC) + 4 + 4 + C.SALT_BYTES


def encode_secret_key_file(keys: SecretKeys, passphrase: bytes, *, opslimit: int,
                           memlimit: int, salt: bytes, nonce: bytes | None = None) -> bytes:
    """magic ‖ u32 opslimit ‖ u32 memlimit ‖ salt ‖ nonce ‖ XChaCha20-Poly1305(payload)."""
    header = C.SECRET_KEY_MAGIC + u32(opslimit) + u32(memlimit) + salt
    key = crypto.argon2id(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    payload = (keys.sign_seed + keys.box_secret + keys.convergence_secret + keys.index_key
               + keys.card.to_bytes())
    nonce, sealed = crypto.xchacha_encrypt(key, payload, aad=header, nonce=nonce)
    return header + nonce + sealed


def read_kdf_header(untrusted: bytes) -> tuple[int, int, bytes]:
    if len(untrusted) < _HEADER_LEN + C.XCHACHA_NONCE_BYTES + 16 + 128:
        raise FormatError("the secret key file is truncated")
    if not untrusted.startswith(C.SECRET_KEY_MAGIC):
        raise FormatError("not a testimony secret key file (or an unsupported version)")
    at = len(C.SECRET_KEY_MAGIC)
    opslimit, memlimit = read_u32(untrusted, at), read_u32(untrusted, at + 4)
    if not C.OPSLIMIT_MIN <= opslimit <= C.OPSLIMIT_MAX:
        raise FormatError(f"the secret key file asks for Argon2id opslimit {opslimit}, "
                          f"outside [{C.OPSLIMIT_MIN}, {C.OPSLIMIT_MAX}]")
    if not C.MEMLIMIT_MIN <= memlimit <= C.MEMLIMIT_MAX:
        raise FormatError(f"the secret key file asks for Argon2id memlimit {memlimit}, "
                          f"outside [{C.MEMLIMIT_MIN}, {C.MEMLIMIT_MAX}]")
    return opslimit, memlimit, untrusted[at + 8:_HEADER_LEN]


def decode_secret_key_file(untrusted: bytes, passphrase: bytes) -> SecretKeys:
    opslimit, memlimit, salt = read_kdf_header(untrusted)  # bounds before deriving
    key = crypto.argon2id(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    nonce = untrusted[_HEADER_LEN:_HEADER_LEN + C.XCHACHA_NONCE_BYTES]
    try:
        payload = crypto.xchacha_decrypt(key, nonce, untrusted[_HEADER_LEN + C.XCHACHA_NONCE_BYTES:],
                                         aad=untrusted[:_HEADER_LEN], what="secret key file")
    except IntegrityError as e:
        raise KeyAccessError("wrong passphrase, or the secret key file was changed",
                             hint="check the keys folder (--keys) and try the passphrase again") from e
    seeds = [payload[i * 32:(i + 1) * 32] for i in range(4)]
    card = parse_card(payload[128:])
    # The fingerprint is recomputed from the secrets, never trusted from storage.
    if (crypto.signing_public_key(seeds[0]) != card.sign_key
            or crypto.box_public_key(seeds[1]) != card.box_key):
        raise IntegrityError("the secret key file's keys do not match its identity card")
    return SecretKeys(seeds[0], seeds[1], seeds[2], seeds[3], card)


def create_identity(name: str, *, created: str) -> SecretKeys:
    seed, box_secret = crypto.new_signing_seed(), crypto.new_box_secret()
    card = sign_card(seed, box_secret, name=name, created=created)
    return SecretKeys(seed, box_secret, crypto.random_bytes(32), crypto.random_bytes(32), card)


def keys_exist(keys_dir: Path) -> bool:
    return any((keys_dir / f).exists() for f in (SECRET_FILE, REVOCATION_FILE))


def write_identity(keys_dir: Path, keys: SecretKeys, passphrase: bytes, *, kdf: str,
                   revocation: bytes) -> None:
    """Write the key file and the revocation certificate; refuse to overwrite either.

    No clear identity card is written: a found key stick must not name its owner. The
    card lives sealed inside identity.secret; `identity export` writes it on request.
    """
    opslimit, memlimit = C.KDF_PROFILES[kdf]
    make_private_dir(keys_dir)
    blob = encode_secret_key_file(keys, passphrase, opslimit=opslimit, memlimit=memlimit,
                                  salt=crypto.random_bytes(C.SALT_BYTES))
    write_atomic(keys_dir / SECRET_FILE, blob, mode=0o600, exclusive=True)
    write_atomic(keys_dir / REVOCATION_FILE, revocation + b"\n", mode=0o600, exclusive=True)


def load_secret_keys(keys_dir: Path, passphrase: bytes) -> SecretKeys:
    path = keys_dir / SECRET_FILE
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise KeyAccessError(f"no secret key file in {keys_dir}",
                             hint="run `testimony init`, or point --keys at your keys folder") from e
    except PermissionError as e:
        raise KeyAccessError(f"cannot read the secret key file in {keys_dir}") from e
    if mode & 0o077:
        raise KeyAccessError(f"the secret key file is readable by others (mode {mode:o})",
                             hint=f"run: chmod 600 {path}")
    folder = stat.S_IMODE(os.stat(keys_dir).st_mode)
    if folder & 0o077:  # others could swap or add files beside the key (SECURITY.md: 0700)
        raise KeyAccessError(f"the keys folder {keys_dir} is open to others (mode {folder:o})",
                             hint=f"run: chmod 700 {keys_dir}")
    return decode_secret_key_file(data, passphrase)
