"""archive.chunks: convergent encryption of evidence files in 1 MiB chunks."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from archive import constants as C
from archive import crypto
from archive.chunks import (chunk_count, decrypt_file_chunks, encrypt_chunk, padded_chunks,
                            read_padded_chunk)
from archive.encoding import padme
from archive.errors import IntegrityError

SECRET = bytes(range(32))
SIZES = [0, 1, 2, 1000, C.CHUNK_SIZE - 1, C.CHUNK_SIZE, C.CHUNK_SIZE + 1, 2 * C.CHUNK_SIZE + 5]


def _data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _encrypt(data: bytes, secret: bytes = SECRET):
    keyer = crypto.ChunkKeyer(secret)
    chunks = [encrypt_chunk(keyer, c) for c in padded_chunks(data)]
    return chunks, {c.object_id: c.obj for c in chunks}


def _decrypt(refs, store, size, sha):
    return b"".join(decrypt_file_chunks(refs, store.__getitem__, size=size, sha256_hex=sha))


def test_encrypt_chunk_formula():
    keyer = crypto.ChunkKeyer(SECRET)
    chunk = encrypt_chunk(keyer, b"evidence")
    assert chunk.key == keyer.key_for(b"evidence")
    assert chunk.obj == crypto.chunk_encrypt(chunk.key, b"evidence")
    assert chunk.object_id == hashlib.sha256(chunk.obj).digest()
    assert chunk.size == 8
    assert chunk.ref() == {"id": chunk.object_id.hex(), "key": chunk.key.hex(), "size": 8}


def test_convergence_same_bytes_same_object_per_secret():
    keyer = crypto.ChunkKeyer(SECRET)
    assert encrypt_chunk(keyer, b"x" * 100) == encrypt_chunk(crypto.ChunkKeyer(SECRET), b"x" * 100)
    other = encrypt_chunk(crypto.ChunkKeyer(bytes(32)), b"x" * 100)
    assert other.object_id != encrypt_chunk(keyer, b"x" * 100).object_id
    assert encrypt_chunk(keyer, b"x" * 100).object_id != encrypt_chunk(keyer, b"x" * 99 + b"y").object_id


def test_object_does_not_contain_the_plaintext():
    data = b"WITNESS STATEMENT " * 100
    chunk = encrypt_chunk(crypto.ChunkKeyer(SECRET), data)
    assert b"WITNESS" not in chunk.obj


@pytest.mark.parametrize("size", SIZES)
def test_padded_stream_layout(size):
    data = _data(size)
    pieces = [bytes(p) for p in padded_chunks(data)]
    assert len(pieces) == chunk_count(size)
    assert all(0 < len(p) <= C.CHUNK_SIZE for p in pieces)
    stream = b"".join(pieces)
    assert len(stream) == padme(size)
    assert stream[:size] == data and not any(stream[size:])


@pytest.mark.parametrize("size", SIZES)
def test_read_padded_chunk_matches_in_memory_stream(tmp_path, size):
    data = _data(size, seed=size)
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        from_file = [read_padded_chunk(fd, size, i) for i in range(chunk_count(size))]
    finally:
        os.close(fd)
    assert from_file == [bytes(p) for p in padded_chunks(data)]


def test_read_padded_chunk_detects_a_shrunk_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.truncate(path, 50)
        with pytest.raises(IntegrityError, match="changed"):
            read_padded_chunk(fd, 100, 0)
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size):
    data = _data(size, seed=size + 7)
    chunks, store = _encrypt(data)
    refs = [c.ref() for c in chunks]
    assert _decrypt(refs, store, size, hashlib.sha256(data).hexdigest()) == data


def test_chunk_count():
    assert chunk_count(0) == 0
    assert chunk_count(1) == 1
    assert chunk_count(C.CHUNK_SIZE) == 1
    assert chunk_count(C.CHUNK_SIZE + 1) == 2


def test_identical_chunks_within_a_file_are_one_object():
    data = b"\x07" * (3 * C.CHUNK_SIZE)
    chunks, store = _encrypt(data)
    assert len(chunks) == 3 and len(store) == 1


def _setup(size: int = C.CHUNK_SIZE + 100):
    data = _data(size, seed=3)
    chunks, store = _encrypt(data)
    return data, [c.ref() for c in chunks], store, hashlib.sha256(data).hexdigest()


def test_wrong_file_hash_is_integrity_error():
    data, refs, store, _ = _setup()
    with pytest.raises(IntegrityError, match="SHA-256"):
        _decrypt(refs, store, len(data), hashlib.sha256(b"other").hexdigest())


def test_wrong_size_is_integrity_error():
    data, refs, store, sha = _setup()
    for size in (len(data) - 1, len(data) + 1, 0):
        with pytest.raises(IntegrityError):
            _decrypt(refs, store, size, sha)


def test_reordered_or_dropped_chunks_fail():
    data, refs, store, sha = _setup()
    with pytest.raises(IntegrityError):
        _decrypt(list(reversed(refs)), store, len(data), sha)
    with pytest.raises(IntegrityError):
        _decrypt(refs[:1], store, len(data), sha)


def test_wrong_chunk_key_fails():
    data, refs, store, sha = _setup()
    bad = [dict(refs[0], key="00" * 32), *refs[1:]]
    with pytest.raises(IntegrityError):
        _decrypt(bad, store, len(data), sha)


def test_lying_chunk_size_fails():
    data, refs, store, sha = _setup()
    bad = [dict(refs[0], size=refs[0]["size"] - 1), *refs[1:]]
    with pytest.raises(IntegrityError, match="wrong size"):
        _decrypt(bad, store, len(data), sha)


def test_tampered_object_fails():
    data, refs, store, sha = _setup()
    oid = bytes.fromhex(refs[-1]["id"])
    obj = bytearray(store[oid])
    obj[10] ^= 1
    store[oid] = bytes(obj)
    with pytest.raises(IntegrityError):
        _decrypt(refs, store, len(data), sha)


def test_non_zero_padding_is_integrity_error():
    """A chunk whose padding holds data (a smuggled tail) is refused even if the hash matches."""
    data = b"abc" * 3                       # 9 bytes, Padmé → 10: one byte of padding
    assert padme(len(data)) == 10
    keyer = crypto.ChunkKeyer(SECRET)
    chunk = encrypt_chunk(keyer, data + b"\x01")
    with pytest.raises(IntegrityError, match="padding"):
        _decrypt([chunk.ref()], {chunk.object_id: chunk.obj}, len(data), hashlib.sha256(data).hexdigest())


def test_nothing_is_yielded_past_an_error_in_a_later_chunk():
    data, refs, store, sha = _setup()
    gen = decrypt_file_chunks(refs, store.__getitem__, size=len(data), sha256_hex=sha)
    first = next(gen)
    assert first == data[:C.CHUNK_SIZE]
    store[bytes.fromhex(refs[1]["id"])] = b"\0" * 40
    with pytest.raises(IntegrityError):
        list(gen)


def test_empty_file_has_no_chunks_and_verifies():
    assert list(padded_chunks(b"")) == []
    assert _decrypt([], {}, 0, hashlib.sha256(b"").hexdigest()) == b""
    with pytest.raises(IntegrityError):
        _decrypt([], {}, 0, "00" * 32)
