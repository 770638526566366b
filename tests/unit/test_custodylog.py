"""The custody log: ProofTree agrees with merkle.py, heads sign and check, forks are caught."""

from __future__ import annotations

import hashlib

import pytest

from archive import merkle
from archive.custodylog import ProofTree, check_consistency, check_head, sign_head
from archive.errors import RollbackError, SignatureError
from archive.keys import create_identity

LEAVES = [merkle.leaf_hash(hashlib.sha256(bytes([i])).digest()) for i in range(70)]


@pytest.mark.parametrize("size", range(0, 70))
def test_proof_tree_matches_rfc_9162_for_every_size_and_index(size):
    tree = ProofTree(LEAVES[:size])
    assert tree.root == merkle.root(LEAVES[:size])
    for index in range(size):
        assert tree.path(index) == merkle.inclusion_proof(LEAVES[:size], index)


def test_proof_tree_refuses_an_index_out_of_range():
    with pytest.raises(ValueError):
        ProofTree(LEAVES[:3]).path(3)


@pytest.fixture(scope="module")
def keys():
    return create_identity("log owner", created="2026-01-01T00:00:00Z")


def _head(keys, size):
    return sign_head(keys, size=size, root=merkle.root(LEAVES[:size]), time="2026-01-02T00:00:00Z")


def test_head_round_trip_and_tamper(keys):
    head = _head(keys, 5)
    assert check_head(head.signed) == head and head.log == keys.card.fingerprint
    forged = {**head.signed, "size": 6}
    with pytest.raises(SignatureError):
        check_head(forged)


def test_consistent_extension_is_accepted(keys):
    old, new = _head(keys, 5), _head(keys, 9)
    proof = {"5": [p.hex() for p in merkle.consistency_proof(LEAVES[:9], 5)]}
    check_consistency(new, [(old, {})], proof)


def test_shrunk_log_is_refused(keys):
    with pytest.raises(RollbackError, match="shrank or forked"):
        check_consistency(_head(keys, 4), [(_head(keys, 9), {})], {})


def test_fork_at_the_same_size_is_refused(keys):
    other = sign_head(keys, size=5, root=b"\x01" * 32, time="2026-01-02T00:00:00Z")
    with pytest.raises(RollbackError, match="forked"):
        check_consistency(other, [(_head(keys, 5), {})], {})


def test_rewritten_history_is_refused(keys):
    rewritten = [LEAVES[0], merkle.leaf_hash(b"rewritten")] + LEAVES[2:9]
    new = sign_head(keys, size=9, root=merkle.root(rewritten), time="2026-01-03T00:00:00Z")
    proof = {"5": [p.hex() for p in merkle.consistency_proof(rewritten, 5)]}
    with pytest.raises(RollbackError, match="not one history"):
        check_consistency(new, [(_head(keys, 5), {})], proof)


def test_missing_consistency_proof_is_refused(keys):
    with pytest.raises(RollbackError):
        check_consistency(_head(keys, 9), [(_head(keys, 5), {})], {})


def test_older_head_arriving_late_is_checked_with_the_proof_the_newer_one_brought(keys):
    newer = _head(keys, 9)
    brought = {"5": [p.hex() for p in merkle.consistency_proof(LEAVES[:9], 5)]}
    check_consistency(_head(keys, 5), [(newer, brought)], {})
    forged_old = sign_head(keys, size=5, root=b"\x02" * 32, time="2026-01-02T00:00:00Z")
    with pytest.raises(RollbackError):
        check_consistency(forged_old, [(newer, brought)], {})
