"""archive.keys: identity cards, fingerprints, revocations, the secret key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from archive import constants as C
from archive import crypto, keys
from archive.encoding import canonical, parse_canonical, u32
from archive.errors import FormatError, IntegrityError, KeyAccessError, SignatureError

CREATED = "2024-05-01T10:00:00Z"
PASS = b"correct staple violet harbour 1947"
INTERACTIVE = C.KDF_PROFILES["interactive"]


@pytest.fixture(scope="module")
def ident() -> keys.SecretKeys:
    return keys.create_identity("Field team Ж", created=CREATED)


@pytest.fixture(scope="module")
def key_file(ident) -> bytes:
    ops, mem = INTERACTIVE
    return keys.encode_secret_key_file(ident, PASS, opslimit=ops, memlimit=mem, salt=bytes(range(16)))


def _with_limits(blob: bytes, *, opslimit: int | None = None, memlimit: int | None = None) -> bytes:
    at = len(C.SECRET_KEY_MAGIC)
    out = bytearray(blob)
    if opslimit is not None:
        out[at:at + 4] = u32(opslimit)
    if memlimit is not None:
        out[at + 4:at + 8] = u32(memlimit)
    return bytes(out)


# --- fingerprints and cards ---------------------------------------------------------------------

def test_fingerprint_formula():
    sign_key, box_key = bytes(range(32)), bytes(range(32, 64))
    expected = crypto.sha256(C.FINGERPRINT + sign_key + box_key).hex()
    assert keys.fingerprint(sign_key, box_key) == expected
    assert keys.fingerprint(box_key, sign_key) != expected


def test_card_fields_and_self_signature(ident):
    card = ident.card
    assert card.name == "Field team Ж" and card.created == CREATED
    assert card.sign_key == crypto.signing_public_key(ident.sign_seed)
    assert card.box_key == crypto.box_public_key(ident.box_secret)
    assert len(card.fingerprint) == 64
    assert card.short_fingerprint == " ".join(card.fingerprint[:32].upper()[i:i + 4] for i in range(0, 32, 4))
    crypto.verify(card.sign_key, purpose=C.IDENTITY, message=canonical(card.unsigned_dict()),
                  signature=card.self_signature)
    assert set(card.to_dict()) == {"type", "version", "name", "sign_key", "box_key", "created",
                                   "self_signature"}


def test_card_round_trip(ident):
    data = ident.card.to_bytes()
    assert keys.parse_card(data) == ident.card
    assert keys.parse_card(data + b"\n") == ident.card


def test_identities_are_unique():
    a = keys.create_identity("A", created=CREATED)
    b = keys.create_identity("A", created=CREATED)
    assert a.card.fingerprint != b.card.fingerprint
    assert a.convergence_secret != b.convergence_secret and a.index_key != b.index_key


@pytest.mark.parametrize("field, value", [
    ("name", "Impostor"), ("created", "2024-05-01T10:00:01Z"),
    ("box_key", "00" * 32),
])
def test_card_with_a_changed_field_fails_its_self_signature(ident, field, value):
    d = ident.card.to_dict()
    d[field] = value
    with pytest.raises(SignatureError):
        keys.parse_card(canonical(d))


def test_card_signed_by_another_key_is_refused(ident):
    other = keys.create_identity("Other", created=CREATED)
    d = ident.card.to_dict()
    d["self_signature"] = other.card.to_dict()["self_signature"]
    with pytest.raises(SignatureError):
        keys.parse_card(canonical(d))


@pytest.mark.parametrize("change", [
    lambda d: d.pop("name"), lambda d: d.update(extra=1), lambda d: d.update(type="testimony/other"),
    lambda d: d.update(version=2), lambda d: d.update(name=""), lambda d: d.update(name=7),
    lambda d: d.update(sign_key="00" * 31), lambda d: d.update(box_key="AB" * 32),
    lambda d: d.update(created="2024-05-01"), lambda d: d.update(self_signature="00" * 63),
])
def test_card_shape_errors_are_format_errors(ident, change):
    d = ident.card.to_dict()
    change(d)
    with pytest.raises(FormatError):
        keys.parse_card(canonical(d))


def test_card_must_be_canonical(ident):
    d = ident.card.to_dict()
    import json
    with pytest.raises(FormatError):
        keys.parse_card(json.dumps(d, indent=2).encode())
    with pytest.raises(FormatError):
        keys.card_from_dict([d])


# --- revocation certificates --------------------------------------------------------------------

def test_revocation_round_trip(ident):
    cert = keys.revocation_certificate(ident.sign_seed, ident.card, created=CREATED)
    value = keys.parse_revocation(cert + b"\n")
    assert value["fingerprint"] == ident.card.fingerprint
    assert value["type"] == C.REVOCATION_TYPE


def test_revocation_signature_is_domain_separated(ident):
    """An identity self-signature can never pass as a revocation."""
    cert = parse_canonical(keys.revocation_certificate(ident.sign_seed, ident.card, created=CREATED))
    body = {k: v for k, v in cert.items() if k != "signature"}
    wrong = crypto.sign(ident.sign_seed, purpose=C.IDENTITY, message=canonical(body))
    with pytest.raises(SignatureError):
        keys.parse_revocation(canonical({**body, "signature": wrong.hex()}))


def test_revocation_changed_or_forged_is_refused(ident):
    cert = parse_canonical(keys.revocation_certificate(ident.sign_seed, ident.card, created=CREATED))
    later = dict(cert, created="2030-01-01T00:00:00Z")
    with pytest.raises(SignatureError):
        keys.parse_revocation(canonical(later))
    other = keys.create_identity("Other", created=CREATED)
    # Someone else's key cannot revoke ours: the fingerprint must match the keys it names.
    forged = dict(cert, fingerprint=other.card.fingerprint)
    with pytest.raises(FormatError):
        keys.parse_revocation(canonical(forged))


@pytest.mark.parametrize("change", [
    lambda d: d.pop("created"), lambda d: d.update(type=C.IDENTITY_TYPE), lambda d: d.update(version=0),
    lambda d: d.update(created="yesterday"), lambda d: d.update(extra=None),
])
def test_revocation_shape_errors(ident, change):
    cert = parse_canonical(keys.revocation_certificate(ident.sign_seed, ident.card, created=CREATED))
    change(cert)
    with pytest.raises(FormatError):
        keys.parse_revocation(canonical(cert))


# --- the secret key file ------------------------------------------------------------------------

def test_secret_key_file_round_trip(ident, key_file):
    opened = keys.decode_secret_key_file(key_file, PASS)
    assert opened.sign_seed == ident.sign_seed and opened.box_secret == ident.box_secret
    assert opened.convergence_secret == ident.convergence_secret and opened.index_key == ident.index_key
    assert opened.card == ident.card


def test_secret_key_file_header_holds_no_identity(ident, key_file):
    header = key_file[:len(C.SECRET_KEY_MAGIC) + 8 + C.SALT_BYTES]
    assert header.startswith(C.SECRET_KEY_MAGIC)
    for secret in (ident.card.fingerprint.encode(), bytes.fromhex(ident.card.fingerprint),
                   ident.card.name.encode(), ident.card.sign_key, ident.card.box_key,
                   ident.card.sign_key.hex().encode(), ident.card.box_key.hex().encode(),
                   ident.sign_seed, ident.box_secret):
        assert secret not in key_file


def test_secret_repr_does_not_leak(ident):
    text = repr(ident) + str(ident)
    for secret in (ident.sign_seed, ident.box_secret, ident.convergence_secret, ident.index_key):
        assert secret.hex() not in text and repr(secret) not in text


def test_wrong_passphrase_is_key_access_error(key_file):
    with pytest.raises(KeyAccessError) as e:
        keys.decode_secret_key_file(key_file, b"correct staple violet harbour 1948")
    assert e.value.hint


@pytest.mark.parametrize("opslimit, memlimit", [
    (1, None), (9, None), (0, None), (2**32 - 1, None),
    (None, C.MEMLIMIT_MIN - 1), (None, C.MEMLIMIT_MAX + 1), (None, 0), (None, 2**32 - 1),
])
def test_kdf_parameters_out_of_bounds_rejected_before_deriving(key_file, monkeypatch, opslimit, memlimit):
    def must_not_derive(*args, **kwargs):
        pytest.fail("Argon2id ran on parameters outside the bounds")
    monkeypatch.setattr(crypto, "argon2id", must_not_derive)
    blob = _with_limits(key_file, opslimit=opslimit, memlimit=memlimit)
    with pytest.raises(FormatError, match="opslimit" if opslimit is not None else "memlimit"):
        keys.decode_secret_key_file(blob, PASS)


def test_kdf_header_bounds_are_inclusive(key_file):
    assert keys.read_kdf_header(_with_limits(key_file, opslimit=C.OPSLIMIT_MIN, memlimit=C.MEMLIMIT_MIN))[:2] == \
        (C.OPSLIMIT_MIN, C.MEMLIMIT_MIN)
    assert keys.read_kdf_header(_with_limits(key_file, opslimit=C.OPSLIMIT_MAX, memlimit=C.MEMLIMIT_MAX))[:2] == \
        (C.OPSLIMIT_MAX, C.MEMLIMIT_MAX)


def test_changed_header_within_bounds_fails_authentication(key_file):
    """The header is the AAD: raising opslimit or swapping the salt is detected."""
    ops, mem = INTERACTIVE
    with pytest.raises(KeyAccessError):
        keys.decode_secret_key_file(_with_limits(key_file, opslimit=ops + 1), PASS)
    salt_at = len(C.SECRET_KEY_MAGIC) + 8
    bad = bytearray(key_file)
    bad[salt_at] ^= 1
    with pytest.raises(KeyAccessError):
        keys.decode_secret_key_file(bytes(bad), PASS)


def test_changed_ciphertext_is_key_access_error(key_file):
    for at in (len(key_file) // 2, len(key_file) - 1, len(key_file) - 200):
        bad = bytearray(key_file)
        bad[at] ^= 0x10
        with pytest.raises(KeyAccessError):
            keys.decode_secret_key_file(bytes(bad), PASS)


def test_bad_magic_and_truncation_are_format_errors(key_file, monkeypatch):
    monkeypatch.setattr(crypto, "argon2id", lambda *a, **k: pytest.fail("derived on a malformed file"))
    with pytest.raises(FormatError):
        keys.decode_secret_key_file(b"TESTIMONY-SECRET-2\n" + key_file[len(C.SECRET_KEY_MAGIC):], PASS)
    for n in (0, 10, len(C.SECRET_KEY_MAGIC) + 8, len(C.SECRET_KEY_MAGIC) + 8 + 16 + 24 + 16 + 127):
        with pytest.raises(FormatError):
            keys.decode_secret_key_file(key_file[:n], PASS)


def test_secret_key_file_whose_keys_do_not_match_its_card(ident):
    other = keys.create_identity("Other", created=CREATED)
    mixed = keys.SecretKeys(other.sign_seed, ident.box_secret, ident.convergence_secret,
                            ident.index_key, ident.card)
    ops, mem = INTERACTIVE
    blob = keys.encode_secret_key_file(mixed, PASS, opslimit=ops, memlimit=mem, salt=bytes(16))
    with pytest.raises(IntegrityError):
        keys.decode_secret_key_file(blob, PASS)


# --- on disk ------------------------------------------------------------------------------------

def _write(tmp_path: Path, ident) -> Path:
    folder = tmp_path / "keys"
    cert = keys.revocation_certificate(ident.sign_seed, ident.card, created=CREATED)
    keys.write_identity(folder, ident, PASS, kdf="interactive", revocation=cert)
    return folder


def test_write_identity_modes_and_load(tmp_path, ident):
    folder = _write(tmp_path, ident)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / keys.SECRET_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder / keys.REVOCATION_FILE).st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == sorted([keys.SECRET_FILE, keys.REVOCATION_FILE])
    assert keys.keys_exist(folder)
    assert keys.load_secret_keys(folder, PASS).card == ident.card
    keys.parse_revocation((folder / keys.REVOCATION_FILE).read_bytes())
    # The interactive profile was used, as asked.
    assert keys.read_kdf_header((folder / keys.SECRET_FILE).read_bytes())[:2] == INTERACTIVE


def test_no_clear_name_on_the_key_stick(tmp_path, ident):
    folder = _write(tmp_path, ident)
    for path in folder.iterdir():
        assert ident.card.name.encode() not in path.read_bytes()


def test_write_identity_never_overwrites(tmp_path, ident):
    folder = _write(tmp_path, ident)
    before = (folder / keys.SECRET_FILE).read_bytes()
    with pytest.raises(FileExistsError):
        _write(tmp_path, keys.create_identity("Second", created=CREATED))
    assert (folder / keys.SECRET_FILE).read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666, 0o610, 0o601])
def test_secret_file_with_loose_mode_is_refused(tmp_path, ident, monkeypatch, mode):
    folder = _write(tmp_path, ident)
    os.chmod(folder / keys.SECRET_FILE, mode)
    monkeypatch.setattr(crypto, "argon2id", lambda *a, **k: pytest.fail("derived from a loose key file"))
    with pytest.raises(KeyAccessError, match="readable by others") as e:
        keys.load_secret_keys(folder, PASS)
    assert "chmod 600" in e.value.hint


def test_missing_key_file(tmp_path):
    assert not keys.keys_exist(tmp_path)
    with pytest.raises(KeyAccessError) as e:
        keys.load_secret_keys(tmp_path, PASS)
    assert "init" in e.value.hint


def test_wrong_passphrase_from_disk(tmp_path, ident):
    folder = _write(tmp_path, ident)
    with pytest.raises(KeyAccessError):
        keys.load_secret_keys(folder, b"not the passphrase at all")
