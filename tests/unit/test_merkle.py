"""archive.merkle: RFC 9162 §2.1 tree hashing, inclusion and consistency proofs.

Known answers come from published test data, not from our own output:
  - transparency-dev/merkle proof/verify_test.go (the 8-leaf RFC 6962 test tree used by
    Trillian and google/certificate-transparency): roots of sizes 1..8, audit paths,
    consistency proofs;
  - transparency-dev/merkle rfc6962/rfc6962_test.go: empty root, leaf and node hashes;
  - transparency-dev/merkle proof/proof_test.go: which tree nodes make up a proof, for
    trees up to 95 leaves (written below as the leaf ranges those nodes cover).
Then exhaustive properties for every tree of 0..64 leaves, and a hypothesis property.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import merkle
from archive.merkle import (EMPTY_ROOT, MAX_TREE_SIZE, consistency_proof, inclusion_proof,
                            leaf_hash, root, verify_consistency, verify_inclusion)


def hx(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# --- Published vectors -----------------------------------------------------------------------

# The eight leaves of the RFC 6962 test tree (transparency-dev/merkle proof/verify_test.go).
CT_LEAVES = hx("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f")
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]

# MTH(D[0:n]) for n = 0..8.
CT_ROOTS = hx(
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)

# (index, size, audit path). The Go file numbers leaves from 1; these are 0-based.
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, hx("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, hx("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]

# (old size, new size, proof).
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, hx("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_empty_root_is_sha256_of_nothing():
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest() == CT_ROOTS[0]


def test_leaf_and_node_hash_vectors():
    # rfc6962_test.go: the empty leaf differs from the empty tree; HASH(0x00 || "L123456");
    # HASH(0x01 || "N123" || "N456").
    assert leaf_hash(b"") == CT_ROOTS[1]
    assert leaf_hash(b"L123456") == bytes.fromhex(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert merkle.node_hash(b"N123", b"N456") == bytes.fromhex(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


@pytest.mark.parametrize("size", range(9))
def test_root_vectors(size):
    assert root(CT_HASHES[:size]) == CT_ROOTS[size]


@pytest.mark.parametrize("index,size,path", CT_INCLUSION)
def test_inclusion_vectors(index, size, path):
    assert inclusion_proof(CT_HASHES[:size], index) == path
    assert verify_inclusion(leaf_hash=CT_HASHES[index], index=index, size=size, proof=path,
                            root=CT_ROOTS[size])


@pytest.mark.parametrize("index,size,path", [v for v in CT_INCLUSION if v[2]])
def test_inclusion_vectors_corrupted(index, size, path):
    # The probes of verify_test.go's corruptInclusionProof.
    good = dict(leaf_hash=CT_HASHES[index], index=index, size=size, proof=path,
                root=CT_ROOTS[size])
    probes = [
        dict(index=index - 1), dict(index=index + 1), dict(index=index ^ 2),
        dict(size=size * 2), dict(size=size // 2),
        dict(leaf_hash=b"WrongLeaf"), dict(root=EMPTY_ROOT), dict(root=SOME_HASH),
        dict(proof=path + [b""]), dict(proof=path + [CT_ROOTS[size]]),
        dict(proof=[b""] + path), dict(proof=[CT_ROOTS[size]] + path),
        dict(proof=path[:-1]),
    ]
    if len(path) > 1:
        probes.append(dict(proof=[path[0], SOME_HASH] + path[1:]))
    for i in range(len(path)):
        wrong = list(path)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append(dict(proof=wrong))
    for probe in probes:
        assert not verify_inclusion(**{**good, **probe}), probe


@pytest.mark.parametrize("old,new,proof", CT_CONSISTENCY)
def test_consistency_vectors(old, new, proof):
    assert consistency_proof(CT_HASHES[:new], old) == proof
    assert verify_consistency(old_size=old, new_size=new, old_root=CT_ROOTS[old],
                              new_root=CT_ROOTS[new], proof=proof)


@pytest.mark.parametrize("old,new,proof", [v for v in CT_CONSISTENCY if v[2]])
def test_consistency_vectors_corrupted(old, new, proof):
    # The probes of verify_test.go's corruptConsistencyProof.
    r1, r2 = CT_ROOTS[old], CT_ROOTS[new]
    good = dict(old_size=old, new_size=new, old_root=r1, new_root=r2, proof=proof)
    probes = [
        dict(old_size=old - 1), dict(old_size=old + 1), dict(old_size=old ^ 2),
        dict(new_size=new * 2), dict(new_size=new // 2),
        dict(old_root=b"WrongRoot"), dict(new_root=b"WrongRoot"),
        dict(old_root=r2, new_root=r1), dict(proof=[]),
        dict(proof=proof + [b""]), dict(proof=proof + [r1]), dict(proof=proof + [r2]),
        dict(proof=[b""] + proof), dict(proof=[r1] + proof), dict(proof=[r2] + proof),
        dict(proof=[proof[0]] + proof), dict(proof=proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append(dict(proof=wrong))
    for probe in probes:
        assert not verify_consistency(**{**good, **probe}), probe


# Proof shapes from proof_test.go, each node written as the leaf range [a, b) it covers
# (a "rehash" of several nodes there is one range here: the RFC tree has no gaps).
SHAPE_INCLUSION = [
    (1, 0, []),
    (2, 0, [(1, 2)]), (2, 1, [(0, 1)]), (3, 1, [(0, 1), (2, 3)]),
    (7, 0, [(1, 2), (2, 4), (4, 7)]), (7, 1, [(0, 1), (2, 4), (4, 7)]),
    (7, 2, [(3, 4), (0, 2), (4, 7)]), (7, 3, [(2, 3), (0, 2), (4, 7)]),
    (7, 4, [(5, 6), (6, 7), (0, 4)]), (7, 5, [(4, 5), (6, 7), (0, 4)]),
    (7, 6, [(4, 6), (0, 4)]),
    (4, 2, [(3, 4), (0, 2)]), (5, 3, [(2, 3), (0, 2), (4, 5)]),
    (6, 3, [(2, 3), (0, 2), (4, 6)]), (6, 4, [(5, 6), (0, 4)]),
    (15, 10, [(11, 12), (8, 10), (12, 15), (0, 8)]),
    (31, 24, [(25, 26), (26, 28), (28, 31), (16, 24), (0, 16)]),
    (95, 81, [(80, 81), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
]
SHAPE_CONSISTENCY = [
    (1, 2, [(1, 2)]), (1, 4, [(1, 2), (2, 4)]), (1, 6, [(1, 2), (2, 4), (4, 6)]),
    (2, 3, [(2, 3)]), (2, 8, [(2, 4), (4, 8)]),
    (3, 7, [(2, 3), (3, 4), (0, 2), (4, 7)]), (4, 7, [(4, 7)]),
    (5, 7, [(4, 5), (5, 6), (6, 7), (0, 4)]), (6, 7, [(4, 6), (6, 7), (0, 4)]),
    (7, 8, [(6, 7), (7, 8), (4, 6), (0, 4)]),
    (1, 1, []), (2, 2, []), (3, 3, []), (4, 4, []), (5, 5, []), (7, 7, []), (8, 8, []),
    (2, 4, [(2, 4)]), (3, 5, [(2, 3), (3, 4), (0, 2), (4, 5)]),
    (3, 6, [(2, 3), (3, 4), (0, 2), (4, 6)]), (4, 6, [(4, 6)]),
    (1, 7, [(1, 2), (2, 4), (4, 7)]),
    (10, 15, [(8, 10), (10, 12), (12, 15), (0, 8)]),
    (24, 31, [(16, 24), (24, 31), (0, 16)]),
    (81, 95, [(80, 81), (81, 82), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
]

LEAVES = [leaf_hash(b"event %d" % i) for i in range(96)]


def ranges(spans):
    return [root(LEAVES[a:b]) for a, b in spans]


@pytest.mark.parametrize("size,index,spans", SHAPE_INCLUSION)
def test_inclusion_shapes(size, index, spans):
    assert inclusion_proof(LEAVES[:size], index) == ranges(spans)


@pytest.mark.parametrize("old,new,spans", SHAPE_CONSISTENCY)
def test_consistency_shapes(old, new, spans):
    assert consistency_proof(LEAVES[:new], old) == ranges(spans)


# --- A second implementation: the RFC's recursive definitions, transcribed ------------------

def rfc_mth(d):
    if len(d) == 0:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]            # these are already leaf hashes
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:])).digest()


def rfc_path(m, d):
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return rfc_path(m, d[:k]) + [rfc_mth(d[k:])]
    return rfc_path(m - k, d[k:]) + [rfc_mth(d[:k])]


def rfc_subproof(m, d, b):
    if m == len(d):
        return [] if b else [rfc_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return rfc_subproof(m, d[:k], b) + [rfc_mth(d[k:])]
    return rfc_subproof(m - k, d[k:], False) + [rfc_mth(d[:k])]


def test_matches_the_recursive_definitions_up_to_40_leaves():
    for n in range(41):
        d = LEAVES[:n]
        assert root(d) == rfc_mth(d)
        for i in range(n):
            assert inclusion_proof(d, i) == rfc_path(i, d)
        for m in range(1, n + 1):
            assert consistency_proof(d, m) == rfc_subproof(m, d, True)


# --- Exhaustive properties, every tree of 0..64 leaves ----------------------------------------

MAX_N = 64
TREE = LEAVES[:MAX_N]
ROOTS = [root(TREE[:n]) for n in range(MAX_N + 1)]


def flip(h: bytes, at: int) -> bytes:
    return h[:at] + bytes([h[at] ^ 0x01]) + h[at + 1:]


def test_every_inclusion_proof_verifies_and_every_change_fails():
    for n in range(MAX_N + 1):
        leaves, r = TREE[:n], ROOTS[n]
        for i in range(n):
            proof = inclusion_proof(leaves, i)
            ok = dict(leaf_hash=leaves[i], index=i, size=n, proof=proof, root=r)
            assert verify_inclusion(**ok)
            # One byte of each proof hash, of the leaf and of the root; the byte moves
            # with (n, i) so that every position is hit across the loop.
            at = (n * 7 + i) % 32
            for j in range(len(proof)):
                wrong = list(proof)
                wrong[j] = flip(proof[j], (at + j) % 32)
                assert not verify_inclusion(**{**ok, "proof": wrong})
            assert not verify_inclusion(**{**ok, "leaf_hash": flip(leaves[i], at)})
            assert not verify_inclusion(**{**ok, "root": flip(r, at)})
            # Any other index, in range or not, with the same leaf and proof.
            for other in range(n + 2):
                if other != i:
                    assert not verify_inclusion(**{**ok, "index": other})
            # Another leaf of the same tree does not borrow this one's place.
            if n > 1:
                assert not verify_inclusion(**{**ok, "leaf_hash": leaves[(i + 1) % n]})
            # A proof one hash short or one hash long.
            assert not verify_inclusion(**{**ok, "proof": proof + [SOME_HASH]})
            if proof:
                assert not verify_inclusion(**{**ok, "proof": proof[:-1]})


def test_inclusion_every_byte_of_every_hash_matters():
    for n in range(1, 13):
        leaves, r = TREE[:n], ROOTS[n]
        for i in range(n):
            proof = inclusion_proof(leaves, i)
            ok = dict(leaf_hash=leaves[i], index=i, size=n, proof=proof, root=r)
            for at in range(32):
                for j in range(len(proof)):
                    wrong = list(proof)
                    wrong[j] = flip(proof[j], at)
                    assert not verify_inclusion(**{**ok, "proof": wrong})
                assert not verify_inclusion(**{**ok, "leaf_hash": flip(leaves[i], at)})
                assert not verify_inclusion(**{**ok, "root": flip(r, at)})


def test_every_consistency_proof_verifies_and_every_change_fails():
    for n in range(1, MAX_N + 1):
        leaves = TREE[:n]
        for m in range(1, n + 1):
            proof = consistency_proof(leaves, m)
            ok = dict(old_size=m, new_size=n, old_root=ROOTS[m], new_root=ROOTS[n],
                      proof=proof)
            assert verify_consistency(**ok)
            at = (n * 5 + m) % 32
            for j in range(len(proof)):
                wrong = list(proof)
                wrong[j] = flip(proof[j], (at + j) % 32)
                assert not verify_consistency(**{**ok, "proof": wrong})
            assert not verify_consistency(**{**ok, "old_root": flip(ROOTS[m], at)})
            assert not verify_consistency(**{**ok, "new_root": flip(ROOTS[n], at)})
            assert not verify_consistency(**{**ok, "proof": proof + [SOME_HASH]})
            if proof:
                assert not verify_consistency(**{**ok, "proof": proof[:-1]})
                assert not verify_consistency(**{**ok, "proof": [proof[0]] + proof})
            if m < n:
                assert not verify_consistency(**{**ok, "old_root": ROOTS[n],
                                                 "new_root": ROOTS[m]})
                # The new tree shrinking back to the old size is refused outright.
                assert not verify_consistency(**{**ok, "old_size": n, "new_size": m})
                # The old head is not a head of any other size of this log.
                for other in range(1, n):
                    if other != m:
                        assert not verify_consistency(**{**ok, "old_size": other})


def test_consistency_every_byte_of_every_hash_matters():
    for n in range(2, 13):
        for m in range(1, n):
            proof = consistency_proof(TREE[:n], m)
            ok = dict(old_size=m, new_size=n, old_root=ROOTS[m], new_root=ROOTS[n],
                      proof=proof)
            for at in range(32):
                for j in range(len(proof)):
                    wrong = list(proof)
                    wrong[j] = flip(proof[j], at)
                    assert not verify_consistency(**{**ok, "proof": wrong})
                assert not verify_consistency(**{**ok, "old_root": flip(ROOTS[m], at)})
                assert not verify_consistency(**{**ok, "new_root": flip(ROOTS[n], at)})


def test_forked_log_fails_consistency_with_the_old_head():
    # A log that rewrote leaf j < m after publishing the head of size m cannot prove
    # its new head consistent with that head: neither with its own proof nor with the
    # proof of the honest log.
    for n in range(2, 33):
        for j in range(n):
            forked = list(TREE[:n])
            forked[j] = leaf_hash(b"rewritten %d" % j)
            forked_root = root(forked)
            for m in range(j + 1, n + 1):
                for proof in (consistency_proof(forked, m), consistency_proof(TREE[:n], m)):
                    assert not verify_consistency(old_size=m, new_size=n,
                                                  old_root=ROOTS[m], new_root=forked_root,
                                                  proof=proof)


def test_fork_after_the_old_head_is_a_valid_extension():
    # Consistency says "appended only": a different suffix after the old head is a
    # legitimate, different extension, and custody must compare heads of equal size.
    forked = list(TREE[:10])
    forked[7] = leaf_hash(b"other")
    assert verify_consistency(old_size=5, new_size=10, old_root=ROOTS[5],
                              new_root=root(forked), proof=consistency_proof(forked, 5))
    assert not verify_consistency(old_size=10, new_size=10, old_root=ROOTS[10],
                                  new_root=root(forked), proof=[])


def test_forked_log_fails_inclusion_of_the_original_leaf():
    for n in range(1, 33):
        for j in range(n):
            forked = list(TREE[:n])
            forked[j] = leaf_hash(b"rewritten %d" % j)
            forked_root = root(forked)
            for proof in (inclusion_proof(forked, j), inclusion_proof(TREE[:n], j)):
                assert not verify_inclusion(leaf_hash=TREE[j], index=j, size=n, proof=proof,
                                            root=forked_root)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=300))
def test_random_trees_prove_and_reject_tampering(data, n):
    leaves = [leaf_hash(b) for b in data.draw(st.lists(st.binary(max_size=8), min_size=n,
                                                      max_size=n))]
    r = root(leaves)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    m = data.draw(st.integers(min_value=1, max_value=n))
    incl = inclusion_proof(leaves, i)
    cons = consistency_proof(leaves, m)
    old = root(leaves[:m])
    assert verify_inclusion(leaf_hash=leaves[i], index=i, size=n, proof=incl, root=r)
    assert verify_consistency(old_size=m, new_size=n, old_root=old, new_root=r, proof=cons)
    at = data.draw(st.integers(min_value=0, max_value=31))
    if incl:
        j = data.draw(st.integers(min_value=0, max_value=len(incl) - 1))
        wrong = incl[:j] + [flip(incl[j], at)] + incl[j + 1:]
        assert not verify_inclusion(leaf_hash=leaves[i], index=i, size=n, proof=wrong, root=r)
    if cons:
        j = data.draw(st.integers(min_value=0, max_value=len(cons) - 1))
        wrong = cons[:j] + [flip(cons[j], at)] + cons[j + 1:]
        assert not verify_consistency(old_size=m, new_size=n, old_root=old, new_root=r,
                                      proof=wrong)


# --- Edge cases and malformed input: verifiers say False, never raise ------------------------

def test_single_leaf_tree():
    h = leaf_hash(b"data")
    assert root([h]) == h
    assert inclusion_proof([h], 0) == []
    assert verify_inclusion(leaf_hash=h, index=0, size=1, proof=[], root=h)
    assert not verify_inclusion(leaf_hash=h, index=0, size=1, proof=[], root=b"")
    assert not verify_inclusion(leaf_hash=b"", index=0, size=1, proof=[], root=h)
    assert not verify_inclusion(leaf_hash=b"", index=0, size=1, proof=[], root=b"")


@pytest.mark.parametrize("index,size", [(0, 0), (1, 0), (2, 1), (1, 1), (-1, 1)])
def test_inclusion_index_out_of_range(index, size):
    for lh, r in ((SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT),
                  (SOME_HASH, SOME_HASH)):
        assert not verify_inclusion(leaf_hash=lh, index=index, size=size, proof=[], root=r)


def test_equal_sizes_need_equal_roots_and_an_empty_proof():
    for n in range(1, 9):
        assert verify_consistency(old_size=n, new_size=n, old_root=CT_ROOTS[n],
                                  new_root=CT_ROOTS[n], proof=[])
        assert not verify_consistency(old_size=n, new_size=n, old_root=CT_ROOTS[n],
                                      new_root=CT_ROOTS[n], proof=[CT_ROOTS[n]])
        assert not verify_consistency(old_size=n, new_size=n, old_root=CT_ROOTS[n],
                                      new_root=SOME_HASH, proof=[])


def test_empty_old_tree_is_refused():
    # RFC 9162 §2.1.4 defines proofs for 0 < first only; unlike transparency-dev/merkle,
    # which accepts any roots for first == 0, we refuse: a size-0 head proves nothing.
    assert not verify_consistency(old_size=0, new_size=0, old_root=EMPTY_ROOT,
                                  new_root=EMPTY_ROOT, proof=[])
    assert not verify_consistency(old_size=0, new_size=1, old_root=EMPTY_ROOT,
                                  new_root=CT_ROOTS[1], proof=[])
    assert not verify_consistency(old_size=0, new_size=8, old_root=EMPTY_ROOT,
                                  new_root=CT_ROOTS[8], proof=[EMPTY_ROOT])
    with pytest.raises(ValueError):
        consistency_proof(CT_HASHES, 0)


def test_old_size_larger_than_new_size_is_refused():
    # verify_test.go "time travel to the past", with well-formed roots and proofs.
    assert not verify_consistency(old_size=1, new_size=0, old_root=CT_ROOTS[1],
                                  new_root=EMPTY_ROOT, proof=[])
    assert not verify_consistency(old_size=2, new_size=1, old_root=CT_ROOTS[2],
                                  new_root=CT_ROOTS[1], proof=[])
    assert not verify_consistency(old_size=8, new_size=6, old_root=CT_ROOTS[8],
                                  new_root=CT_ROOTS[6], proof=CT_CONSISTENCY[2][2])
    assert not verify_consistency(old_size=2, new_size=1, old_root=CT_ROOTS[1],
                                  new_root=CT_ROOTS[1], proof=[])


def test_consistency_with_an_empty_proof_between_different_sizes_fails():
    for m, n in ((1, 2), (2, 4), (4, 8), (3, 5)):
        assert not verify_consistency(old_size=m, new_size=n, old_root=CT_ROOTS[m],
                                      new_root=CT_ROOTS[n], proof=[])


BAD_HASHES = [b"", b"\x00" * 31, b"\x00" * 33, bytearray(32), "00" * 32, None, 0]
BAD_SIZES = [-1, 1.0, "1", None, True, MAX_TREE_SIZE + 1]


def test_malformed_inclusion_input_returns_false():
    index, size, path = CT_INCLUSION[2]
    ok = dict(leaf_hash=CT_HASHES[index], index=index, size=size, proof=path,
              root=CT_ROOTS[size])
    assert verify_inclusion(**ok)
    probes = [dict(leaf_hash=bad) for bad in BAD_HASHES]
    probes += [dict(root=bad) for bad in BAD_HASHES]
    probes += [dict(index=bad) for bad in BAD_SIZES] + [dict(size=bad) for bad in BAD_SIZES]
    probes += [dict(proof=path[:1] + [bad] + path[2:]) for bad in BAD_HASHES]
    probes += [dict(proof=bad) for bad in (b"".join(path), "".join(p.hex() for p in path),
                                           None, 3, {p: 1 for p in path}, iter(path))]
    probes += [dict(proof=path * 30), dict(proof=[SOME_HASH] * 70)]
    for probe in probes:
        assert verify_inclusion(**{**ok, **probe}) is False, probe


def test_malformed_consistency_input_returns_false():
    old, new, proof = CT_CONSISTENCY[2]
    ok = dict(old_size=old, new_size=new, old_root=CT_ROOTS[old], new_root=CT_ROOTS[new],
              proof=proof)
    assert verify_consistency(**ok)
    probes = [dict(old_root=bad) for bad in BAD_HASHES]
    probes += [dict(new_root=bad) for bad in BAD_HASHES]
    probes += [dict(old_size=bad) for bad in BAD_SIZES]
    probes += [dict(new_size=bad) for bad in BAD_SIZES]
    probes += [dict(proof=proof[:1] + [bad] + proof[2:]) for bad in BAD_HASHES]
    probes += [dict(proof=bad) for bad in (b"".join(proof), "", b"", None, 3, iter(proof))]
    probes += [dict(proof=proof * 30), dict(proof=[SOME_HASH] * 70)]
    for probe in probes:
        assert verify_consistency(**{**ok, **probe}) is False, probe


def test_huge_sizes_do_not_raise():
    assert not verify_inclusion(leaf_hash=SOME_HASH, index=MAX_TREE_SIZE - 1,
                                size=MAX_TREE_SIZE, proof=[SOME_HASH] * 64, root=SOME_HASH)
    assert not verify_consistency(old_size=MAX_TREE_SIZE - 1, new_size=MAX_TREE_SIZE,
                                  old_root=SOME_HASH, new_root=SOME_HASH,
                                  proof=[SOME_HASH] * 64)
    assert not verify_inclusion(leaf_hash=SOME_HASH, index=2**100, size=2**101,
                                proof=[SOME_HASH], root=SOME_HASH)


def test_sizes_above_uint64_are_refused():
    # The last leaf of a tree of 2**j + 1 leaves has a one-hash path: the root of the
    # first 2**j leaves. It verifies for j = 63, but tree_size is a uint64 (RFC 9162
    # §4.8), so j = 64 is refused even though the algorithm alone would accept it.
    h = leaf_hash(b"last")
    for j, accepted in ((63, True), (64, False)):
        assert verify_inclusion(leaf_hash=h, index=2**j, size=2**j + 1, proof=[SOME_HASH],
                                root=merkle.node_hash(SOME_HASH, h)) is accepted
    assert not verify_consistency(old_size=2**64, new_size=2**64, old_root=SOME_HASH,
                                  new_root=SOME_HASH, proof=[])


def test_verifiers_are_keyword_only():
    with pytest.raises(TypeError):
        verify_inclusion(CT_HASHES[0], 0, 1, [], CT_ROOTS[1])  # type: ignore[misc]
    with pytest.raises(TypeError):
        verify_consistency(1, 1, CT_ROOTS[1], CT_ROOTS[1], [])  # type: ignore[misc]


# --- Producers: a bad argument is our own bug -----------------------------------------------

@pytest.mark.parametrize("index", [-1, 8, 100, True, 1.0, None])
def test_inclusion_proof_rejects_bad_index(index):
    with pytest.raises(ValueError):
        inclusion_proof(CT_HASHES, index)


def test_inclusion_proof_of_empty_tree_is_an_error():
    with pytest.raises(ValueError):
        inclusion_proof([], 0)


@pytest.mark.parametrize("old_size", [-1, 0, 9, True, 2.0, None])
def test_consistency_proof_rejects_bad_old_size(old_size):
    with pytest.raises(ValueError):
        consistency_proof(CT_HASHES, old_size)


def test_producers_reject_malformed_leaf_hashes():
    for fn in (root, lambda hs: inclusion_proof(hs, 0), lambda hs: consistency_proof(hs, 1)):
        with pytest.raises(ValueError):
            fn([CT_HASHES[0], b"\x00" * 31])
        with pytest.raises(TypeError):
            fn([CT_HASHES[0], "00" * 32])
    with pytest.raises(TypeError):
        leaf_hash("text")  # type: ignore[arg-type]


def test_leaf_and_node_hashes_are_domain_separated():
    a, b = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert a != b
    # A two-leaf root is not the leaf hash of the two leaf hashes concatenated
    # (the second-preimage attack the 0x00/0x01 prefixes stop).
    assert root([a, b]) != leaf_hash(a + b)
    assert root([a, b]) != root([b, a])
