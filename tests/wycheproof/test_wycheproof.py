"""Project Wycheproof vectors for our four primitives, through archive/crypto.py.

Every test case of every group of aes_gcm_test.json, xchacha20_poly1305_test.json,
x25519_test.json and ed25519_test.json is one test, named `<file>-tc<tcId>`, that calls our
wrapper (never the library) and asserts our verdict:

- "valid": accepted, with exactly the vector's output;
- "invalid": refused with our error type (IntegrityError, SignatureError, or None from the
  sealed-box openers), and no other exception;
- "acceptable": the verdict we give, stated per kind of case below, with the reason.

A case our wrapper cannot express is never dropped silently: each file has a count test
that asserts how many cases were exercised, how many were left out, and why.

What this does not test: our formats (tests/vectors/), or that libsodium and OpenSSL are
right in general; only that the verdicts our archive relies on hold at these edge cases.
"""

from __future__ import annotations

import importlib.metadata
from collections import Counter

import monocypher
import nacl.bindings
import pytest

from archive import constants as C
from archive import crypto
from archive.errors import IntegrityError, SignatureError

from tests.wycheproof.conftest import (DISTRIBUTION, FILES, PINNED_VERSION, Case, cases, load,
                                      params, unsafe_box_from_shared, unsafe_hsalsa20)

WHAT = "a Wycheproof case"  # the `what` our AEAD wrappers put in their one error message
REFUSED = f"^{WHAT} failed authentication$"


# --- the files are the pinned ones, whole ----------------------------------------------------

def test_the_pinned_version_is_installed():
    assert importlib.metadata.version(DISTRIBUTION) == PINNED_VERSION


@pytest.mark.parametrize("name", FILES)
def test_every_case_of_the_file_is_loaded_once(name):
    data = load(name)
    assert data["algorithm"] == FILES[name][2]
    assert len(cases(name)) == data["numberOfTests"]
    ids = [case.tc_id for case in cases(name)]
    assert len(set(ids)) == len(ids), "tcIds must be unique: they name the tests"
    assert {case.result for case in cases(name)} <= {"valid", "invalid", "acceptable"}


# --- AES-GCM: crypto._aes_gcm_encrypt/_decrypt, what chunk_encrypt/chunk_decrypt call ------
# Evidence chunks use AES-256-GCM with a fixed 12-byte zero nonce (format.md §9). The
# primitive under them takes any key and nonce pyca/cryptography's AESGCM takes, so every
# key size and every IV length from 8 to 128 bytes is exercised against Wycheproof's verdict.
#
# Left out of Wycheproof's verdict: 27 "valid" cases whose IV is 1 to 6 bytes (SmallIv) or
# 257 bytes (LongIv). AESGCM refuses those lengths and our format never uses them, so for
# these we assert the refusal instead: IntegrityError on decryption (untrusted input never
# gets another error type), ValueError on encryption (nonces are ours: a wrong one is our bug).

GCM_NONCE_BYTES = range(8, 129)


def gcm_expected(case: Case) -> str:
    if case.result == "invalid":
        return "refused"
    assert case.result == "valid", f"tc{case.tc_id}: AES-GCM has no acceptable cases"
    return "valid" if len(case.hex("iv")) in GCM_NONCE_BYTES else "refused: IV length"


def test_aes_gcm_cases_exercised_and_left_out():
    counted = Counter((case.result, gcm_expected(case)) for case in cases("aes_gcm"))
    assert counted == {("valid", "valid"): 202,
                       ("invalid", "refused"): 87,  # 81 modified tags, 6 zero-length IVs
                       ("valid", "refused: IV length"): 27}
    # The cases with chunk encryption's own parameters: AES-256, 96-bit IV, 128-bit tag.
    ours = Counter(case.result for case in cases("aes_gcm")
                   if case.group["keySize"] == 256 and case.group["ivSize"] == 96)
    assert ours == {"valid": 39, "invalid": 27}


@pytest.mark.parametrize("case", params("aes_gcm"))
def test_aes_gcm(case):
    key, iv, aad, msg, ct, tag = (case.hex(f) for f in ("key", "iv", "aad", "msg", "ct", "tag"))
    expected = gcm_expected(case)
    if expected == "valid":
        assert crypto._aes_gcm_encrypt(key, iv, msg, aad=aad) == ct + tag
        assert crypto._aes_gcm_decrypt(key, iv, ct + tag, aad=aad, what=WHAT) == msg
        return
    with pytest.raises(IntegrityError, match=REFUSED):
        crypto._aes_gcm_decrypt(key, iv, ct + tag, aad=aad, what=WHAT)
    if expected == "refused: IV length":
        with pytest.raises(ValueError):
            crypto._aes_gcm_encrypt(key, iv, msg, aad=aad)


def test_chunk_encryption_runs_through_the_primitive_the_vectors_exercise(monkeypatch):
    calls = []

    def spy(name):
        real = getattr(crypto, name)

        def recorded(*args, **kwargs):
            calls.append((name, args, kwargs))
            return real(*args, **kwargs)
        monkeypatch.setattr(crypto, name, recorded)

    spy("_aes_gcm_encrypt")
    spy("_aes_gcm_decrypt")
    key = bytes(range(32))
    obj = crypto.chunk_encrypt(key, b"a chunk")
    assert crypto.chunk_decrypt(key, obj) == b"a chunk"
    assert calls == [
        ("_aes_gcm_encrypt", (key, bytes(12), b"a chunk"), {"aad": C.CHUNK_AAD}),
        ("_aes_gcm_decrypt", (key, bytes(12), obj), {"aad": C.CHUNK_AAD, "what": "an evidence chunk"}),
    ]
    with pytest.raises(IntegrityError, match="^an evidence chunk failed authentication$"):
        crypto.chunk_decrypt(key, obj[:-1] + bytes([obj[-1] ^ 1]))


# --- XChaCha20-Poly1305: crypto.xchacha_encrypt/xchacha_decrypt, as the archive calls them --
# Nothing is left out: every case has a 256-bit key, and the 9 cases with a nonce other than
# 24 bytes are "invalid", which xchacha_decrypt refuses by its length check.

def test_xchacha20_poly1305_cases_exercised():
    counted = Counter(case.result for case in cases("xchacha20_poly1305"))
    assert counted == {"valid": 246, "invalid": 69}  # invalid: 60 modified tags, 9 nonce sizes
    assert all(len(case.hex("key")) == C.KEY_BYTES for case in cases("xchacha20_poly1305"))
    assert all(len(case.hex("iv")) == C.XCHACHA_NONCE_BYTES
               for case in cases("xchacha20_poly1305") if case.result == "valid")


@pytest.mark.parametrize("case", params("xchacha20_poly1305"))
def test_xchacha20_poly1305(case):
    key, iv, aad, msg, ct, tag = (case.hex(f) for f in ("key", "iv", "aad", "msg", "ct", "tag"))
    if case.result == "valid":
        assert crypto.xchacha_encrypt(key, msg, aad=aad, nonce=iv) == (iv, ct + tag)
        assert crypto.xchacha_decrypt(key, iv, ct + tag, aad=aad, what=WHAT) == msg
        return
    with pytest.raises(IntegrityError, match=REFUSED):
        crypto.xchacha_decrypt(key, iv, ct + tag, aad=aad, what=WHAT)
    if "InvalidNonceSize" in case.flags:  # and we could not have made it: the nonce is ours
        with pytest.raises((TypeError, ValueError)):
            crypto.xchacha_encrypt(key, msg, aad=aad, nonce=iv)


# --- X25519: crypto.open_sealed (envelopes) and crypto.hidden_open (bundle stanzas) ---------
# We never call X25519 ourselves: libsodium's crypto_box_seal_open / crypto_box_open compute
# X25519(our secret, the sender's ephemeral public key) inside. That ephemeral key is the
# untrusted input, so each case becomes a box from "public" (the ephemeral key) to the
# recipient whose secret is "private", sealed under the key the vector's "shared" secret
# gives (unsafe_box_from_shared). Our opener returns the message only if libsodium computed
# exactly that shared secret: a wrong one fails Poly1305 and gives None.
#
# "acceptable" cases (254): libsodium refuses exactly the 31 whose shared secret is all zero
# (low-order public keys: it checks a list of them and refuses an all-zero result), and our
# openers return None. Refusing is the safe verdict: with a low-order ephemeral key the
# shared secret is zero whatever our secret is, so the box key is a public constant and
# anyone could have made the box; an honest sender's ephemeral key is never low-order, so
# nothing is lost. The other 223 (twist points, non-canonical encodings, the top bit set,
# edge cases of the arithmetic) are computed as RFC 7748 says and the box opens: Curve25519
# is twist-secure and the result depends on our secret, so accepting them gives an attacker
# nothing that an honest key would not.

def x25519_expected(case: Case) -> str:
    if case.result == "valid":
        return "valid"
    assert case.result == "acceptable", f"tc{case.tc_id}: X25519 has no invalid cases"
    return "refused" if case.hex("shared") == bytes(32) else "valid"


def stanza_representative(public: bytes) -> bytes | None:
    """The Elligator 2 representative that carries `public` in a bundle stanza, if any.

    hidden_open maps a representative to a canonical point on the curve (never the twist,
    never the top bit set); about half of those points have a representative at all.
    """
    try:
        hidden = monocypher.elligator_rev(public, 0)
    except ValueError:
        return None
    return hidden if monocypher.elligator_map(hidden) == public else None


def test_x25519_cases_exercised_and_left_out():
    counted = Counter((case.result, x25519_expected(case)) for case in cases("x25519"))
    assert counted == {("valid", "valid"): 264, ("acceptable", "valid"): 223,
                       ("acceptable", "refused"): 31}
    assert all("ZeroSharedSecret" in case.flags and "LowOrderPublic" in case.flags
               for case in cases("x25519") if x25519_expected(case) == "refused")
    # Every case goes through open_sealed: a sealed box carries any 32 bytes as the key.
    # Through hidden_open only the 124 whose public key some representative maps to; the
    # other 394 (no representative, a point on the twist, a non-canonical encoding or the
    # top bit set) cannot be written in a stanza at all.
    hidden = Counter((case.result, x25519_expected(case)) for case in cases("x25519")
                     if stanza_representative(case.hex("public")) is not None)
    assert hidden == {("valid", "valid"): 118, ("acceptable", "refused"): 6}


@pytest.mark.parametrize("case", params("x25519"))
def test_x25519_sealed_box(case):
    private, public, shared = case.hex("private"), case.hex("public"), case.hex("shared")
    message = b"Wycheproof x25519 tc%d" % case.tc_id
    box = unsafe_box_from_shared(shared, ephemeral_public=public,
                                 recipient_public=crypto.box_public_key(private), message=message)
    opened = crypto.open_sealed(private, public + box)
    assert opened == (message if x25519_expected(case) == "valid" else None)


@pytest.mark.parametrize("case", params("x25519", lambda c: stanza_representative(c.hex("public"))))
def test_x25519_hidden_stanza(case):
    private, public, shared = case.hex("private"), case.hex("public"), case.hex("shared")
    message = b"Wycheproof x25519 tc%d" % case.tc_id
    box = unsafe_box_from_shared(shared, ephemeral_public=public,
                                 recipient_public=crypto.box_public_key(private), message=message)
    opened = crypto.hidden_open(private, stanza_representative(public) + box)
    assert opened == (message if x25519_expected(case) == "valid" else None)


def test_unsafe_hsalsa20_is_what_libsodium_applies():
    # The NaCl paper's example (Alice's secret, Bob's public): shared secret and box key.
    alice_secret = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert unsafe_hsalsa20(shared).hex() == (
        "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
    for private, public in [(alice_secret, bob_public)] + [
            (c.hex("private"), c.hex("public")) for c in cases("x25519")[:8]]:
        assert unsafe_hsalsa20(nacl.bindings.crypto_scalarmult(private, public)) == \
            nacl.bindings.crypto_box_beforenm(public, private)
    # and a box from it opens with libsodium's own sealed-box code:
    recipient = crypto.new_box_secret()
    ephemeral = crypto.new_box_secret()
    ephemeral_public = crypto.box_public_key(ephemeral)
    box = unsafe_box_from_shared(
        nacl.bindings.crypto_scalarmult(ephemeral, crypto.box_public_key(recipient)),
        ephemeral_public=ephemeral_public, recipient_public=crypto.box_public_key(recipient),
        message=b"m")
    assert nacl.bindings.crypto_box_seal_open(ephemeral_public + box, crypto.box_public_key(recipient),
                                              recipient) == b"m"


# --- Ed25519: crypto._ed25519_verify, what verify (label ‖ message) and verify_sshsig call ---
# Wycheproof signs raw messages, and `verify` prefixes a purpose label, so the vectors go
# to the primitive under it. Nothing is left out.
#
# "acceptable" cases (29):
# - 8 canonical small-order public keys (SmallOrderPublicKey; one is the identity, for which
#   any signature with R = identity and S = 0 verifies, a universal forgery): libsodium
#   refuses small-order keys, and so do we (SignatureError). Nobody's honest key is one.
# - 21 mixed-order public keys (MixedOrderPublicKey): libsodium checks the encoding is
#   canonical and not small-order, not the subgroup; these signatures satisfy the equation
#   and verify. Such a key can only come from its owner building it on purpose, and a
#   signature under it still binds the message to it; what it could do is verify here and
#   fail under a stricter verifier, which harms only its owner's own proof.

def ed25519_expected(case: Case) -> str:
    if case.result != "acceptable":
        return case.result
    if case.flags == {"SmallOrderPublicKey"}:
        return "invalid"
    assert case.flags == {"MixedOrderPublicKey"}, f"tc{case.tc_id}: an acceptable kind not reviewed"
    return "valid"


def test_ed25519_cases_exercised():
    counted = Counter((case.result, ed25519_expected(case)) for case in cases("ed25519"))
    assert counted == {("valid", "valid"): 117, ("invalid", "invalid"): 64,
                       ("acceptable", "invalid"): 8, ("acceptable", "valid"): 21}


@pytest.mark.parametrize("case", params("ed25519"))
def test_ed25519(case):
    public_key = bytes.fromhex(case.group["publicKey"]["pk"])
    message, signature = case.hex("msg"), case.hex("sig")
    if ed25519_expected(case) == "valid":
        assert crypto._ed25519_verify(public_key, message, signature=signature) == message
        return
    with pytest.raises(SignatureError, match="^signature does not verify$"):
        crypto._ed25519_verify(public_key, message, signature=signature)


def test_every_signature_check_runs_through_the_primitive_the_vectors_exercise(monkeypatch):
    calls = []
    real = crypto._ed25519_verify

    def recorded(public_key, message, *, signature):
        calls.append((public_key, message, signature))
        return real(public_key, message, signature=signature)
    monkeypatch.setattr(crypto, "_ed25519_verify", recorded)

    seed = bytes(range(32))
    public_key = crypto.signing_public_key(seed)
    signature = crypto.sign(seed, purpose=C.STATEMENT, message=b"a statement")
    assert crypto.verify(public_key, purpose=C.STATEMENT, message=b"a statement",
                         signature=signature) == b"a statement"
    sshsig = b"SSHSIG signed data"
    ssh_signature = crypto.sign_sshsig(seed, sshsig)
    crypto.verify_sshsig(public_key, sshsig, ssh_signature)
    assert calls == [(public_key, C.STATEMENT + b"a statement", signature),
                     (public_key, sshsig, ssh_signature)]
    with pytest.raises(SignatureError):
        crypto.verify(public_key, purpose=C.BUNDLE, message=b"a statement", signature=signature)
