"""Merkle tree hashing, inclusion and consistency proofs of RFC 9162 §2.1 (CT v2).

The custody log (DESIGN.md, Custody) is a Merkle tree over its events: a signed tree
head commits to every event so far, an inclusion proof shows one event sits under a
head, and a consistency proof shows a later head only appended to an earlier one.

What this module does: the hashes of RFC 9162 §2.1.1 with SHA-256, the proofs of
§2.1.3.1 and §2.1.4.1, and the verification algorithms of §2.1.3.2 and §2.1.4.2,
step for step. What it does not do: store trees, sign heads or decide what a failed
proof means; custody.py does that. It is pure (hashlib and hmac only): no I/O, no
clock, no randomness.

Producers (`root`, `inclusion_proof`, `consistency_proof`) work on our own data and
raise ValueError/TypeError on a bad argument, which is a bug of the caller. Verifiers
(`verify_inclusion`, `verify_consistency`) take untrusted input and return False on
anything malformed -- wrong hash lengths, wrong proof lengths, sizes or indices out of
range, wrong types -- and never raise.

Size 0: RFC 9162 §2.1.4 defines consistency proofs only for 0 < first < second (the
empty tree commits to nothing, so "consistency" with it says nothing). We follow the
RFC strictly: `consistency_proof` refuses old_size 0 and `verify_consistency` returns
False for old_size 0. A log's first head is taken on its own signature; there is no
earlier head to be consistent with.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HASH_BYTES = 32                  # SHA-256, the hash of RFC 9162 §2.1 here
MAX_TREE_SIZE = 2**64 - 1        # tree_size is a uint64 (RFC 9162 §4.5, §4.8)
_LEAF_PREFIX = b"\x00"           # RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))
_NODE_PREFIX = b"\x01"           # RFC 9162 §2.1.1: HASH(0x01 || left || right)

EMPTY_ROOT = hashlib.sha256(b"").digest()   # RFC 9162 §2.1.1: MTH({}) = HASH()


def leaf_hash(data: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 || data) (RFC 9162 §2.1.1)."""
    if not isinstance(data, bytes):
        raise TypeError(f"leaf data must be bytes, not {type(data).__name__}")
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right): an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n, for n > 1 (RFC 9162 §2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(leaf_hashes):
        if not isinstance(h, bytes):
            raise TypeError(f"leaf hash {i} must be bytes, not {type(h).__name__}")
        if len(h) != HASH_BYTES:
            raise ValueError(f"leaf hash {i} is {len(h)} bytes, not {HASH_BYTES}")


def _subtree_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) over already-checked leaf hashes, iteratively, in O(hi - lo).

    Every left subtree in RFC 9162's tree is a perfect tree of 2**j leaves, so a stack
    of perfect subtrees (merged whenever two of equal size meet) holds the tree's left
    spine; folding the stack from the right at the end gives the root.
    """
    if lo == hi:
        return EMPTY_ROOT
    stack: list[bytes] = []
    for count in range(1, hi - lo + 1):
        stack.append(leaf_hashes[lo + count - 1])
        # Each trailing zero bit of `count` is a perfect subtree just completed.
        while count & 1 == 0:
            right = stack.pop()
            stack.append(node_hash(stack.pop(), right))
            count >>= 1
    top = stack.pop()
    while stack:
        top = node_hash(stack.pop(), top)
    return top


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash MTH(D[n]) of n leaf hashes (RFC 9162 §2.1.1).

    `leaf_hashes` are the outputs of `leaf_hash`. MTH of the empty list is
    SHA-256 of the empty string. Iterative, O(n) hashes, O(log n) memory.
    """
    _check_leaf_hashes(leaf_hashes)
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf to root.

    Raises ValueError unless 0 <= index < len(leaf_hashes).
    """
    _check_leaf_hashes(leaf_hashes)
    n = len(leaf_hashes)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise ValueError(f"leaf index {index!r} is outside a tree of {n} leaves")
    # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])        for m < k
    #               = PATH(m - k, D[k:n]) : MTH(D[0:k])    for m >= k
    # Walking down from the root collects the siblings top first; the path lists them
    # bottom first.
    siblings: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(_subtree_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            siblings.append(_subtree_root(leaf_hashes, lo, lo + k))
            lo = lo + k
    siblings.reverse()
    return siblings


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 for n = len(leaf_hashes).

    The proof is empty when old_size == n. Raises ValueError unless
    0 < old_size <= n (see the module docstring for size 0).
    """
    _check_leaf_hashes(leaf_hashes)
    n = len(leaf_hashes)
    if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 < old_size <= n:
        raise ValueError(f"old tree size {old_size!r} is not in 1..{n}")
    # SUBPROOF(m, D[m], true)  = {}
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    # SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          for m <= k
    #                      = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  for m > k
    siblings: list[bytes] = []
    lo, hi, m, whole = 0, n, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            siblings.append(_subtree_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            siblings.append(_subtree_root(leaf_hashes, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    proof = [] if whole else [_subtree_root(leaf_hashes, lo, hi)]
    proof.extend(reversed(siblings))
    return proof


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_BYTES


def _is_size(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and 0 <= value <= MAX_TREE_SIZE)


def _is_proof(value: object) -> bool:
    # A str or bytes is a Sequence too; neither is a list of hashes.
    return (isinstance(value, Sequence)
            and not isinstance(value, (str, bytes, bytearray, memoryview))
            and all(_is_hash(p) for p in value))


def verify_inclusion(*, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """Check that `leaf_hash` is leaf `index` of the tree of `size` leaves with `root`.

    The algorithm of RFC 9162 §2.1.3.2, step for step. Returns False, never raises, on
    any malformed input.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)
            and _is_size(index) and _is_size(size)):
        return False
    # 1. If leaf_index >= tree_size, fail.
    if index >= size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    fn, sn = index, size - 1
    r = leaf_hash
    sha256 = hashlib.sha256   # node_hash inlined: imports check thousands of these proofs
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. If sn is 0, fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or fn == sn:
        if fn & 1 or fn == sn:
            r = sha256(_NODE_PREFIX + p + r).digest()
            # ii. If LSB(fn) is not set, shift until LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(_NODE_PREFIX + r + p).digest()
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 5. Succeed iff sn == 0 and r equals root_hash.
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(*, old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Check that the tree of `new_size` leaves with `new_root` extends `old_root`.

    The algorithm of RFC 9162 §2.1.4.2, step for step, for 0 < old_size < new_size.
    old_size == new_size holds only with an empty proof and equal roots (§2.1.4.1:
    SUBPROOF(m, D[m], true) = {}). old_size > new_size and old_size == 0 are
    refused (see the module docstring). Returns False, never raises, on any
    malformed input.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)
            and _is_size(old_size) and _is_size(new_size)):
        return False
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and hmac.compare_digest(old_root, new_root)
    # 1. An empty consistency_path fails.
    if len(proof) == 0:
        return False
    # 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. If LSB(fn) is set, right-shift fn and sn until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of consistency_path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. If sn is 0, fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or fn == sn:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # iii. If LSB(fn) is not set, shift until LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 7. Succeed iff fr == first_hash, sr == second_hash and sn == 0. Both digests are
    # compared (no early exit) so timing does not say which root failed.
    old_ok = hmac.compare_digest(fr, old_root)
    new_ok = hmac.compare_digest(sr, new_root)
    return old_ok and new_ok and sn == 0
