"""Chunk encryption on 1 MiB chunks, beside the primitives it is made of.

encrypt_chunk = HMAC-SHA256 (the convergent key) + AES-256-GCM + SHA-256 of the object
(its id). Measuring the three primitives in the same run shows what the construction
costs over its parts, and which part dominates. The thread-pool cases show how far
the GIL-releasing primitives scale on this machine's cores, the ceiling of `add`. They
run on 32 distinct chunks (more than the L2 cache), so compare two threads with one
thread on the same chunks, not with the single hot 1 MiB buffer of the first group.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive import constants as C
from archive import crypto
from archive.chunks import encrypt_chunk

from .conftest import record_rate

CHUNK = C.CHUNK_SIZE
PARALLEL_CHUNKS = 32


@pytest.fixture(scope="module")
def plaintext() -> bytes:
    return os.urandom(CHUNK)


@pytest.fixture(scope="module")
def keyer() -> crypto.ChunkKeyer:
    return crypto.ChunkKeyer(bytes(range(32)))


def _primitives(keyer: crypto.ChunkKeyer):
    key = bytes(32)
    return {
        "sha256": lambda data: hashlib.sha256(data).digest(),
        "hmac_sha256": lambda data: hmac.new(key, data, "sha256").digest(),
        "aes256gcm_encrypt": lambda data: AESGCM(key).encrypt(bytes(12), data, C.CHUNK_AAD),
        "encrypt_chunk": lambda data: encrypt_chunk(keyer, data).obj,
    }


@pytest.mark.parametrize("name", ["sha256", "hmac_sha256", "aes256gcm_encrypt", "encrypt_chunk"])
def test_chunk_1mib(benchmark, plaintext: bytes, keyer: crypto.ChunkKeyer, name: str) -> None:
    benchmark.group = "chunk encryption, 1 MiB, one thread"
    function = _primitives(keyer)[name]
    result = benchmark(function, plaintext)
    assert len(result) in (32, CHUNK + C.GCM_TAG_BYTES)
    record_rate(benchmark, CHUNK)


@pytest.mark.parametrize("threads", [1, 2])
def test_encrypt_chunk_threads(benchmark, keyer: crypto.ChunkKeyer, threads: int) -> None:
    """32 distinct chunks (32 MiB, more than the L2 cache) through a pool, as `add` runs
    them: one thread against two shows how far the work scales on this machine's cores."""
    benchmark.group = "chunk encryption, 32 distinct 1 MiB chunks"
    chunks = [os.urandom(16) + bytes(CHUNK - 16) for _ in range(PARALLEL_CHUNKS)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def run() -> list:
            return list(pool.map(lambda c: encrypt_chunk(keyer, c), chunks))

        result = benchmark(run)
    assert len({c.object_id for c in result}) == PARALLEL_CHUNKS
    record_rate(benchmark, CHUNK * PARALLEL_CHUNKS, threads=threads)
