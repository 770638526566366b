"""Evidence chunks: encrypt then decrypt gives back the file, for any size."""

from __future__ import annotations

import hashlib
import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from archive import constants as C
from archive import crypto
from archive.chunks import (chunk_count, decrypt_file_chunks, encrypt_chunk, padded_chunks,
                            padded_in_place, read_padded_chunk)
from archive.encoding import padme

SETTINGS = settings(max_examples=50, deadline=None)
SECRET = bytes(range(32))
EDGES = [0, 1, 2, C.CHUNK_SIZE - 1, C.CHUNK_SIZE, C.CHUNK_SIZE + 1, 2 * C.CHUNK_SIZE - 1,
         2 * C.CHUNK_SIZE + 1]
sizes = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=3 * C.CHUNK_SIZE),
                  st.integers(min_value=0, max_value=5000))


@SETTINGS
@given(sizes, st.integers(min_value=0, max_value=2**32))
def test_round_trip(size, seed):
    data = random.Random(seed).randbytes(size)
    keyer = crypto.ChunkKeyer(SECRET)
    chunks = [encrypt_chunk(keyer, c) for c in padded_chunks(data)]
    assert len(chunks) == chunk_count(size)
    assert sum(c.size for c in chunks) == padme(size)
    assert all(0 < c.size <= C.CHUNK_SIZE for c in chunks)
    store = {c.object_id: c.obj for c in chunks}
    assert all(hashlib.sha256(obj).digest() == oid for oid, obj in store.items())
    out = b"".join(decrypt_file_chunks([c.ref() for c in chunks], store.__getitem__, size=size,
                                       sha256_hex=hashlib.sha256(data).hexdigest()))
    assert out == data


@SETTINGS
@given(st.sampled_from(EDGES) | st.integers(min_value=0, max_value=2 * C.CHUNK_SIZE + 10))
def test_file_reads_match_memory(tmp_path_factory, size):
    data = os.urandom(size)
    path = tmp_path_factory.mktemp("c") / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        from_file = [read_padded_chunk(fd, size, i) for i in range(chunk_count(size))]
    finally:
        os.close(fd)
    assert from_file == [bytes(c) for c in padded_chunks(data)]


@SETTINGS
@given(sizes, st.integers(min_value=0, max_value=2**32))
def test_padding_in_place_matches_padded_chunks_whatever_the_buffer_held(size, seed):
    """A reused buffer holds the last file's bytes after this one: they must not leak
    into the padding."""
    rng = random.Random(seed)
    data = rng.randbytes(size)
    buffer = memoryview(bytearray(rng.randbytes(padme(size) + rng.randrange(3))))
    buffer[:size] = data
    assert [bytes(c) for c in padded_in_place(buffer, size)] == [bytes(c) for c in padded_chunks(data)]


def test_padding_in_place_needs_room_for_the_padding():
    import pytest
    with pytest.raises(ValueError):
        list(padded_in_place(memoryview(bytearray(1000)), 1000 - 1 + 64))


@SETTINGS
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_convergence(a, b):
    """Same bytes, same objects; different bytes, different objects (for one secret)."""
    keyer = crypto.ChunkKeyer(SECRET)
    ids_a = [encrypt_chunk(keyer, c).object_id for c in padded_chunks(a)]
    assert ids_a == [encrypt_chunk(crypto.ChunkKeyer(SECRET), c).object_id for c in padded_chunks(a)]
    if a != b and len(a) == len(b):
        assert ids_a != [encrypt_chunk(keyer, c).object_id for c in padded_chunks(b)]
    other = crypto.ChunkKeyer(bytes(32))
    if a:
        assert ids_a != [encrypt_chunk(other, c).object_id for c in padded_chunks(a)]
