"""`init`: the passphrase asked twice on a terminal, the passphrase policy with its reasons,
and a second `init` that never overwrites an archive or a key."""

from __future__ import annotations

import hashlib
import re
import stat

import pytest

from ..conftest import TEST_KDF, TEST_PASSPHRASE
from .helpers import CliHome, assert_error, assert_ok, run_in_pty

FINGERPRINT_LINE = re.compile(r"^Fingerprint: ([0-9A-F]{4} ){7}[0-9A-F]{4}$", re.M)


def _init_args(name: str = "Almaty field team") -> list[str]:
    return ["init", "--name", name, "--kdf", TEST_KDF]


def test_init_creates_archive_and_keys_and_prints_fingerprint(cli_home: CliHome):
    r = assert_ok(cli_home.run(*_init_args()))
    assert FINGERPRINT_LINE.search(r.stdout), r.stdout
    assert "revocation.cert" in r.stdout
    secret = cli_home.keys / "identity.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((cli_home.keys / "revocation.cert").stat().st_mode) == 0o600
    assert stat.S_IMODE(cli_home.keys.stat().st_mode) == 0o700
    assert stat.S_IMODE(cli_home.home.stat().st_mode) == 0o700
    assert (cli_home.home / "archive.db").is_file()
    # The printed fingerprint is the identity's, and the key file does not name its owner.
    shown = assert_ok(cli_home.main("identity", "show", "--json")).stdout
    full = re.search(r'"fingerprint": "([0-9a-f]{64})"', shown).group(1)
    printed = FINGERPRINT_LINE.search(r.stdout).group(0).split(": ")[1].replace(" ", "").lower()
    assert full.startswith(printed)
    assert full.encode() not in secret.read_bytes()
    assert b"Almaty field team" not in secret.read_bytes()


def test_init_asks_the_passphrase_twice_on_a_terminal(cli_home: CliHome):
    env = {k: v for k, v in cli_home.env.items() if k != "TESTIMONY_PASSPHRASE"}
    typed = TEST_PASSPHRASE.encode() + b"\n"
    code, out = run_in_pty(_init_args(), env, answers=[(b"Passphrase: ", typed),
                                                       (b"Passphrase (again): ", typed)])
    assert code == 0, out
    assert FINGERPRINT_LINE.search(out.decode().replace("\r", "")), out
    assert TEST_PASSPHRASE.encode() not in out, "the passphrase was echoed"
    assert (cli_home.keys / "identity.secret").is_file()
    # ...and that passphrase (not another) unlocks it.
    assert_ok(cli_home.main("list"))


def test_init_refuses_two_different_passphrases_and_creates_nothing(cli_home: CliHome):
    env = {k: v for k, v in cli_home.env.items() if k != "TESTIMONY_PASSPHRASE"}
    code, out = run_in_pty(_init_args(), env, answers=[
        (b"Passphrase: ", TEST_PASSPHRASE.encode() + b"\n"),
        (b"Passphrase (again): ", b"correct staple violet harbour 1948\n")])
    text = out.decode().replace("\r", "")
    assert code == 1, text
    assert "Error: the two passphrases differ; nothing was created" in text
    assert "Traceback" not in text
    assert not cli_home.home.exists() and not cli_home.keys.exists()


def test_no_passphrase_and_no_terminal_is_one_clear_error(cli_home: CliHome):
    # A new session has no controlling terminal: nothing to prompt on, and the passphrase
    # must not be read (echoed) from standard input instead.
    r = cli_home.run(*_init_args(), drop=("TESTIMONY_PASSPHRASE",), start_new_session=True,
                     input=TEST_PASSPHRASE + "\n" + TEST_PASSPHRASE + "\n")
    assert_error(r, "no passphrase given and no terminal to ask on",
                 hint="--passphrase-file or set TESTIMONY_PASSPHRASE")
    assert not cli_home.keys.exists() and not cli_home.home.exists()


@pytest.mark.parametrize("passphrase, reason", [
    ("", "the passphrase is empty"),
    ("short pass", "the passphrase has 10 characters; at least 12 are needed"),
    ("password1234", "the passphrase is one of the most common passwords"),
    ("Password123456!", "the passphrase is one of the most common passwords"),
    ("correct horse battery staple", "the passphrase is one of the most common passwords"),
    ("qwertyqwertyqwerty", "the passphrase is one of the most common passwords"),
    ("zzzzzzzzzzzzzzzz", "the passphrase is one of the most common passwords"),
])
def test_init_refuses_weak_passphrase_from_file_with_reason(cli_home: CliHome, tmp_path,
                                                            passphrase: str, reason: str):
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text(passphrase + "\n")
    r = cli_home.main(*_init_args(), "--passphrase-file", str(secret_file), drop=("TESTIMONY_PASSPHRASE",))
    assert_error(r, reason)
    assert not cli_home.home.exists() and not cli_home.keys.exists()


def test_init_refuses_weak_passphrase_from_environment(cli_home: CliHome):
    r = cli_home.main(*_init_args(), env={"TESTIMONY_PASSPHRASE": "letmein12345"})
    assert_error(r, "the passphrase is one of the most common passwords", hint="several unrelated words")
    assert not cli_home.keys.exists()


def test_init_with_passphrase_file_uses_its_first_line(cli_home: CliHome, tmp_path):
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text("quiet lantern orbit meadow 88\nignored second line\n")
    assert_ok(cli_home.main(*_init_args(), "--passphrase-file", str(secret_file),
                            drop=("TESTIMONY_PASSPHRASE",)))
    assert_ok(cli_home.main("list", env={"TESTIMONY_PASSPHRASE": "quiet lantern orbit meadow 88"}))


def test_init_unreadable_passphrase_file(cli_home: CliHome, tmp_path):
    r = cli_home.main(*_init_args(), "--passphrase-file", str(tmp_path / "nope.txt"))
    assert_error(r, "cannot read the passphrase file", str(tmp_path / "nope.txt"))
    assert not cli_home.keys.exists()


def test_init_needs_a_name(cli_home: CliHome):
    assert_error(cli_home.main("init", "--name", "   ", "--kdf", TEST_KDF), "the identity needs a name")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_init_over_existing_archive_refuses_and_keeps_key(archive_home: CliHome):
    before = archive_home.snapshot()
    r = archive_home.main(*_init_args("Someone else"))
    assert_error(r, f"{archive_home.home} already holds an archive; nothing was changed")
    assert archive_home.snapshot() == before


def test_second_init_over_existing_keys_refuses_and_keeps_key(archive_home: CliHome, tmp_path):
    secret = archive_home.keys / "identity.secret"
    revocation = archive_home.keys / "revocation.cert"
    digests = _digest(secret), _digest(revocation)
    new_home = tmp_path / "elsewhere"
    r = archive_home.main("--home", str(new_home), *_init_args("Someone else"))
    assert_error(r, f"{archive_home.keys} already holds keys; nothing was overwritten")
    assert (_digest(secret), _digest(revocation)) == digests
    assert not new_home.exists()
    # A keys folder holding only the revocation certificate is not overwritten either.
    secret.unlink()
    r = archive_home.main("--home", str(new_home), *_init_args("Someone else"))
    assert_error(r, "already holds keys")
    assert not secret.exists() and _digest(revocation) == digests[1]


def test_init_as_real_process_refuses_over_existing_archive(archive_home: CliHome):
    secret = archive_home.keys / "identity.secret"
    before = _digest(secret)
    assert_error(archive_home.run(*_init_args()), "already holds an archive")
    assert _digest(secret) == before
