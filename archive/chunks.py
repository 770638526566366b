"""Convergent encryption of evidence files in 1 MiB chunks (as Tahoe-LAFS does).

The file's bytes, then zeros up to Padmé(size), are cut into 1 MiB chunks. Each chunk's
key is HMAC-SHA256(convergence_secret, chunk label ‖ chunk), so the same bytes always
give the same object and evidence is stored once; without the secret nobody can test
whether a known file is present. This module does no I/O beyond the reads it is given.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Iterator

from . import constants as C
from . import crypto
from .encoding import padme
from .errors import IntegrityError


@dataclass(frozen=True)
class EncryptedChunk:
    object_id: bytes      # SHA-256 of the object's bytes: its name in the store
    key: bytes            # the chunk's convergent key (kept only inside envelopes)
    size: int             # plaintext bytes in this chunk
    obj: bytes            # AES-256-GCM ciphertext ‖ tag

    def ref(self) -> dict[str, object]:
        return {"id": self.object_id.hex(), "key": self.key.hex(), "size": self.size}


def encrypt_chunk(keyer: crypto.ChunkKeyer, plaintext: bytes | bytearray | memoryview) -> EncryptedChunk:
    key = keyer.key_for(plaintext)
    obj = crypto.chunk_encrypt(key, plaintext)
    return EncryptedChunk(hashlib.sha256(obj).digest(), key, len(plaintext), obj)


def chunk_count(size: int) -> int:
    return -(-padme(size) // C.CHUNK_SIZE)


def read_padded_chunk(fd: int, size: int, index: int) -> bytes | bytearray:
    """Chunk `index` of the padded stream of a file of `size` bytes, read with pread."""
    start = index * C.CHUNK_SIZE
    length = min(C.CHUNK_SIZE, padme(size) - start)
    want = max(0, min(length, size - start))
    if want == length:
        data = os.pread(fd, want, start)
        if len(data) != want:
            raise IntegrityError("the file changed while it was being read")
        return data
    padded = bytearray(length)   # zeros: the file's tail is read into its start
    if want and os.preadv(fd, [memoryview(padded)[:want]], start) != want:
        raise IntegrityError("the file changed while it was being read")
    return padded


def padded_chunks(data: bytes) -> Iterator[memoryview | bytearray]:
    """The padded stream of an in-memory file, chunk by chunk, without copying the file."""
    total = padme(len(data))
    view = memoryview(data)
    for start in range(0, total, C.CHUNK_SIZE):
        end = min(start + C.CHUNK_SIZE, total)
        if end <= len(data):
            yield view[start:end]
        else:   # the tail: one copy into zeros, not a copy and a concatenation
            tail = bytearray(end - start)
            tail[:len(data) - start] = view[start:]
            yield tail


def padded_in_place(buffer: memoryview, size: int) -> Iterator[memoryview]:
    """padded_chunks of the file whose `size` bytes start `buffer`, as views of it: the
    padding is written as zeros into the buffer after the file (it must have room for
    padme(size) bytes), so not even the tail chunk is copied."""
    total = padme(size)
    if total > len(buffer):
        raise ValueError(f"a buffer of {len(buffer)} bytes cannot hold {total} padded bytes")
    buffer[size:total] = bytes(total - size)
    for start in range(0, total, C.CHUNK_SIZE):
        yield buffer[start:min(start + C.CHUNK_SIZE, total)]


def decrypt_file_chunks(refs: list[dict[str, object]], fetch, *, size: int,
                        sha256_hex: str) -> Iterator[bytes]:
    """Yield the file's bytes, chunk by chunk, then check its size and SHA-256.

    `fetch(object_id: bytes) -> bytes` returns a verified object. The caller must not
    treat what it received as good until the generator finishes without an error.
    """
    digest = hashlib.sha256()
    remaining = size
    for ref in refs:
        plain = crypto.chunk_decrypt(bytes.fromhex(ref["key"]), fetch(bytes.fromhex(ref["id"])))
        if len(plain) != ref["size"]:
            raise IntegrityError("an evidence chunk has the wrong size")
        keep = plain[:max(0, remaining)]
        if any(plain[len(keep):]):
            raise IntegrityError("evidence padding is not zero")
        remaining -= len(keep)
        digest.update(keep)
        if keep:
            yield keep
    if remaining != 0 or not crypto.constant_time_equal(digest.hexdigest().encode(), sha256_hex.encode()):
        raise IntegrityError("the file's SHA-256 does not match the signed statement")
