"""Named attacks on the secret key file (keys/identity.secret): hostile Argon2id
parameters are refused before deriving, a truncated or extended file is one clear
error, and a key file swapped for another identity's cannot read this archive."""

from __future__ import annotations

import resource
import struct
import time

import pytest

from archive import constants as C

from ..cli.helpers import CliHome, assert_error, assert_ok

OPS_AT = len(C.SECRET_KEY_MAGIC)       # u32 opslimit, then u32 memlimit, then the salt
MEM_AT = OPS_AT + 4
HEADER_LEN = MEM_AT + 4 + C.SALT_BYTES
ONE_GIB = 1 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ONE_GIB, ONE_GIB))


def _patch_u32(h: CliHome, at: int, value: int) -> None:
    secret = h.keys / "identity.secret"
    data = bytearray(secret.read_bytes())
    data[at:at + 4] = struct.pack(">I", value)
    secret.write_bytes(bytes(data))


@pytest.mark.parametrize("at, value, message", [
    (MEM_AT, 0xFFFF_FFFF, "asks for Argon2id memlimit 4294967295, outside"),      # 4 GiB
    (MEM_AT, 2 * ONE_GIB, f"asks for Argon2id memlimit {2 * ONE_GIB}, outside"),
    (MEM_AT, 1024, "asks for Argon2id memlimit 1024, outside"),                   # too cheap to guess
    (OPS_AT, 0xFFFF_FFFF, "asks for Argon2id opslimit 4294967295, outside"),      # hours of work
    (OPS_AT, 1, "asks for Argon2id opslimit 1, outside"),
])
def test_hostile_key_file_params(archive_home: CliHome, at: int, value: int, message: str):
    _patch_u32(archive_home, at, value)
    started = time.monotonic()
    if value > ONE_GIB:
        # A real process under a 1 GiB address-space limit: deriving would need more.
        r = archive_home.run("list", preexec_fn=_limit_memory)
    else:
        r = archive_home.main("list")
    assert_error(r, message)
    assert time.monotonic() - started < 10, "refused before deriving, not after"


def test_truncated_key_file(archive_home: CliHome):
    secret = archive_home.keys / "identity.secret"
    whole = secret.read_bytes()
    for keep in (0, 1, OPS_AT, MEM_AT + 2, HEADER_LEN, HEADER_LEN + C.XCHACHA_NONCE_BYTES + 10,
                 len(whole) - 17, len(whole) - 1):
        secret.write_bytes(whole[:keep])
        line = assert_error(archive_home.main("list"))
        assert ("the secret key file is truncated" in line
                or "wrong passphrase, or the secret key file was changed" in line
                or "not a testimony secret key file" in line), (keep, line)
    secret.write_bytes(whole)
    assert_ok(archive_home.main("list"))


def test_extended_key_file(archive_home: CliHome):
    secret = archive_home.keys / "identity.secret"
    secret.write_bytes(secret.read_bytes() + b"\x00")
    assert_error(archive_home.main("list"), "wrong passphrase, or the secret key file was changed")


def test_key_file_header_flipped_is_detected(archive_home: CliHome):
    # The header (parameters, salt) is the AAD: a changed salt byte fails like a wrong passphrase.
    secret = archive_home.keys / "identity.secret"
    data = bytearray(secret.read_bytes())
    data[HEADER_LEN - 1] ^= 1
    secret.write_bytes(bytes(data))
    assert_error(archive_home.main("list"), "wrong passphrase, or the secret key file was changed")


def test_key_file_of_another_version(archive_home: CliHome):
    secret = archive_home.keys / "identity.secret"
    data = secret.read_bytes()
    secret.write_bytes(data.replace(C.SECRET_KEY_MAGIC, C.SECRET_KEY_MAGIC.replace(b"1", b"9"), 1))
    assert_error(archive_home.main("list"), "not a testimony secret key file")


def test_key_file_swapped_for_another_identity(archive_home: CliHome, tmp_path):
    assert_ok(archive_home.main("record", "--title", "ours"))
    other = CliHome(tmp_path / "other").create("Someone else")
    (archive_home.keys / "identity.secret").write_bytes((other.keys / "identity.secret").read_bytes())
    (archive_home.keys / "identity.secret").chmod(0o600)
    # The same passphrase opens the other key, but nothing of this archive opens with it.
    assert_error(archive_home.main("list"), "failed authentication")
    record_id = archive_home.record_ids()[0]
    assert_error(archive_home.main("show", record_id), "not addressed to our key")
    r = archive_home.main("verify")
    assert r.exit_code == 1 and "not addressed to our key" in r.stdout
