"""Bad input (issue 2): one clear `Error:` line, exit 1, no traceback, nothing written.

Wrong passphrase, missing or unreadable files, symlink loops, non-UTF-8 names, empty
files, id prefixes matching nothing or several records, a home that is not an archive,
a busy archive, and usage errors (exit 2).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ..conftest import TEST_PASSPHRASE
from .helpers import CliHome, assert_error, assert_ok


def _record(h: CliHome, title: str = "A title") -> str:
    r = assert_ok(h.main("record", "--title", title))
    return r.stdout.strip()


# --- passphrase and keys -----------------------------------------------------------------

def test_wrong_passphrase_from_environment(archive_home: CliHome):
    _record(archive_home)
    before = archive_home.snapshot()
    r = archive_home.main("list", env={"TESTIMONY_PASSPHRASE": "correct staple violet harbour 1948"})
    assert_error(r, "wrong passphrase, or the secret key file was changed", hint="--keys")
    assert archive_home.snapshot() == before


def test_wrong_passphrase_from_file_as_real_process(archive_home: CliHome, tmp_path):
    wrong = tmp_path / "pass.txt"
    wrong.write_text("not the right one at all\n")
    before = archive_home.snapshot()
    r = archive_home.run("record", "--title", "x", "--passphrase-file", str(wrong))
    assert_error(r, "wrong passphrase")
    assert archive_home.snapshot() == before


def test_passphrase_file_beats_environment(archive_home: CliHome, tmp_path):
    good = tmp_path / "pass.txt"
    good.write_text(TEST_PASSPHRASE + "\r\n")
    assert_ok(archive_home.main("list", "--passphrase-file", str(good),
                                env={"TESTIMONY_PASSPHRASE": "some other passphrase"}))


def test_missing_keys_folder(archive_home: CliHome, tmp_path):
    r = archive_home.main("--keys", str(tmp_path / "no-keys"), "list")
    assert_error(r, f"no secret key file in {tmp_path / 'no-keys'}", hint="--keys")


def test_key_file_readable_by_others_is_refused(archive_home: CliHome):
    secret = archive_home.keys / "identity.secret"
    secret.chmod(0o644)
    assert_error(archive_home.main("list"), "the secret key file is readable by others (mode 644)",
                 hint=f"chmod 600 {secret}")


# --- a home that is not an archive, a busy archive ---------------------------------------------

@pytest.mark.parametrize("command", [["list"], ["check"], ["verify"], ["add", "."],
                                     ["show", "0123456789"], ["identity", "show"]])
def test_home_that_is_not_an_archive(cli_home: CliHome, tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli_home.main("--home", str(empty), *command)
    assert_error(r, f"{empty} is not a testimony archive", hint="testimony init")
    assert list(empty.iterdir()) == [], "nothing may be created in a folder that is not an archive"
    r = cli_home.main("--home", str(tmp_path / "absent"), *command)
    assert_error(r, "is not a testimony archive")
    assert not (tmp_path / "absent").exists()


def test_damaged_index_file(archive_home: CliHome):
    (archive_home.home / "archive.db").write_bytes(b"this is not a database" * 100)
    assert_error(archive_home.main("check"), "the index", "is damaged")


def test_archive_in_use_by_another_process(archive_home: CliHome):
    with archive_home.open():
        r = archive_home.main("list")
    assert_error(r, "is in use by another testimony process", hint="wait")
    assert_ok(archive_home.main("list"))  # and the lock went with its holder


# --- missing, unreadable and special files ----------------------------------------------------

def test_add_missing_path(archive_home: CliHome, tmp_path):
    before = archive_home.snapshot()
    r = archive_home.main("add", str(tmp_path / "photos"))
    assert_error(r, f"{tmp_path / 'photos'}: no such file or folder")
    assert archive_home.snapshot() == before


def test_add_missing_path_among_good_ones_writes_nothing(archive_home: CliHome, tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(b"a real photo")
    before = archive_home.snapshot()
    assert_error(archive_home.main("add", str(good), str(tmp_path / "gone.jpg")), "gone.jpg: no such file")
    assert archive_home.snapshot() == before


def test_record_attach_missing_file(archive_home: CliHome, tmp_path):
    before = archive_home.snapshot()
    r = archive_home.main("record", "--title", "t", "--attach", str(tmp_path / "letter.pdf"))
    assert_error(r, f"{tmp_path / 'letter.pdf'}: no such file")
    assert archive_home.snapshot() == before


def test_record_text_file_missing(archive_home: CliHome, tmp_path):
    r = archive_home.main("record", "--text-file", str(tmp_path / "statement.txt"))
    assert_error(r, f"cannot read {tmp_path / 'statement.txt'}: No such file or directory")


def test_chmod_000_file(archive_home: CliHome, tmp_path):
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(b"photo of a locked door")
    locked.chmod(0o000)
    r = archive_home.main("add", str(locked))
    if os.geteuid() == 0 or os.access(locked, os.R_OK):
        # root reads it anyway: then it is simply added, like any other file.
        assert_ok(r)
        assert "1 new" in r.stdout
    else:
        assert_error(r, f"{locked}: Permission denied")
        assert archive_home.record_ids() == []


def test_dangling_symlink_given(archive_home: CliHome, tmp_path):
    link = tmp_path / "dangling.jpg"
    link.symlink_to(tmp_path / "moved-away.jpg")
    before = archive_home.snapshot()
    assert_error(archive_home.main("add", str(link)), f"{link}: no such file or folder")
    assert_error(archive_home.main("record", "--title", "t", "--attach", str(link)), f"{link}: no such file")
    assert archive_home.snapshot() == before


def test_dangling_symlink_in_folder_writes_nothing(archive_home: CliHome, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"first photo")
    (folder / "b.jpg").symlink_to(tmp_path / "moved-away.jpg")
    before = archive_home.snapshot()
    assert_error(archive_home.main("add", str(folder)), f"{folder / 'b.jpg'}: No such file or directory")
    assert archive_home.snapshot() == before


def test_fifo_is_not_a_regular_file(archive_home: CliHome, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_error(archive_home.main("add", str(fifo)), f"{fifo}: not a regular file or folder")


def test_fifo_inside_a_folder_is_skipped(archive_home: CliHome, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"first photo")
    os.mkfifo(folder / "pipe")
    r = assert_ok(archive_home.main("add", str(folder), "--json"))
    assert json.loads(r.stdout)["files"] == 1


# --- symlink loops ------------------------------------------------------------------------------

def test_folder_with_symlink_loop_to_parent_is_not_followed(archive_home: CliHome, tmp_path):
    folder = tmp_path / "stick"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.jpg").write_bytes(b"photo a")
    (folder / "sub" / "up").symlink_to("..")
    (folder / "self").symlink_to(".")
    r = assert_ok(archive_home.main("add", str(folder), "--json"))
    summary = json.loads(r.stdout)
    assert (summary["files"], summary["new"]) == (1, 1)
    assert [x["name"] for x in summary["records"]] == ["stick/sub/a.jpg"]


def test_folder_with_symlink_cycle_between_files(archive_home: CliHome, tmp_path):
    folder = tmp_path / "stick"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"photo a")
    (folder / "l1").symlink_to("l2")
    (folder / "l2").symlink_to("l1")
    before = archive_home.snapshot()
    r = archive_home.run("add", str(folder))  # a real process: the loop must not hang it
    assert_error(r, f"{folder / 'l1'}: Too many levels of symbolic links")
    assert archive_home.snapshot() == before
    assert_error(archive_home.main("add", str(folder / "l1")), "l1: Too many levels of symbolic links")


# --- non-UTF-8 file names -----------------------------------------------------------------------

def test_non_utf8_file_names(archive_home: CliHome, tmp_path):
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    with open(folder + b"/re\xe7u-\xff.jpg", "wb") as f:
        f.write(b"receipt photo")
    attach = os.fsencode(tmp_path) + b"/lettre-\xe9t\xe9.pdf"
    with open(attach, "wb") as f:
        f.write(b"%PDF letter")
    r = assert_ok(archive_home.run("add", folder, "--json"))
    added = json.loads(r.stdout)
    assert [x["name"] for x in added["records"]] == ["caf\\xe9/re\\xe7u-\\xff.jpg"]
    r = assert_ok(archive_home.run("record", "--title", "letter", "--attach", attach))
    record_id = r.stdout.strip()
    shown = json.loads(assert_ok(archive_home.main("show", record_id, "--json")).stdout)
    assert shown["attachments"][0]["name"] == "lettre-\\xe9t\\xe9.pdf"
    out = tmp_path / "out"
    r = assert_ok(archive_home.main("extract", record_id, "--out", str(out)))
    [written] = list(out.iterdir())
    assert written.read_bytes() == b"%PDF letter"
    # A missing non-UTF-8 path is named readably in the one error line.
    r = archive_home.run("add", os.fsencode(tmp_path) + b"/absent-\xe9.jpg")
    assert_error(r, "absent-\\xe9.jpg: no such file or folder")
    assert_ok(archive_home.main("verify"))


# --- empty files --------------------------------------------------------------------------------

def test_zero_byte_files(archive_home: CliHome, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"")
    (folder / "b.txt").write_bytes(b"")
    r = assert_ok(archive_home.main("add", str(folder), "--json"))
    summary = json.loads(r.stdout)
    assert (summary["files"], summary["bytes"], summary["new"], summary["duplicates"]) == (2, 0, 1, 1)
    record_id = summary["records"][0]["id"]
    shown = json.loads(assert_ok(archive_home.main("show", record_id, "--json")).stdout)
    assert shown["attachments"][0]["size"] == 0
    assert shown["attachments"][0]["sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    out = tmp_path / "out"
    assert_ok(archive_home.main("extract", record_id, "--out", str(out)))
    # The stored name is "empty/a.txt": extract writes it flat, never into sub-folders.
    assert [p.name for p in out.iterdir()] == ["empty_a.txt"]
    assert (out / "empty_a.txt").read_bytes() == b""
    rid = _record_with_attachment(archive_home, folder / "b.txt")
    assert_ok(archive_home.main("extract", rid, "--out", str(tmp_path / "out2")))
    assert (tmp_path / "out2" / "b.txt").read_bytes() == b""
    assert "2 of 2 records verified" in assert_ok(archive_home.main("verify")).stdout
    assert_ok(archive_home.main("check", "--read-data"))


def _record_with_attachment(h: CliHome, path: Path) -> str:
    return assert_ok(h.main("record", "--title", "with file", "--attach", str(path))).stdout.strip()


def test_empty_text_file_and_no_title_is_refused(archive_home: CliHome, tmp_path):
    empty = tmp_path / "statement.txt"
    empty.write_bytes(b"")
    before = archive_home.snapshot()
    assert_error(archive_home.main("record", "--text-file", str(empty)),
                 "the testimony is empty: no title, text or attachment")
    assert archive_home.snapshot() == before


# --- record ids -----------------------------------------------------------------------------------

@pytest.fixture
def two_sharing_a_prefix(archive_home: CliHome) -> tuple[CliHome, str, str]:
    """One real record, and a fake index row sharing its first 8 hex digits."""
    real = _record(archive_home, "the real one")
    fake = real[:8] + ("f" if real[8] != "f" else "e") + "0" * 55
    with archive_home.db() as db:
        db.execute("INSERT INTO records (id, envelope, sealed) VALUES (?, ?, ?)",
                   [fake, bytes(32), b"\x00" * 60])
    return archive_home, real, fake


def test_id_prefix_matching_several_records(two_sharing_a_prefix):
    h, real, _ = two_sharing_a_prefix
    for command in (["show", real[:8]], ["extract", real[:8], "--out", str(h.root / "o")],
                    ["verify", real[:8]]):
        assert_error(h.main(*command), f"{real[:8]} matches several records", hint="give more digits")
    assert not (h.root / "o").exists()
    # One more digit tells them apart.
    assert "the real one" in assert_ok(h.main("show", real[:9])).stdout


def test_id_prefix_matching_no_record(archive_home: CliHome):
    real = _record(archive_home)
    other = "0123456789" if not real.startswith("0123456789") else "9876543210"
    assert_error(archive_home.main("show", other), f"no record id starts with {other}",
                 hint="`testimony list`")
    assert_error(archive_home.main("verify", other), "no record id starts with")


@pytest.mark.parametrize("bad", ["abc", "1234567", "not-hex-at-all", "zzzzzzzzzz", "12345678 9"])
def test_id_that_is_not_a_record_id(archive_home: CliHome, bad: str):
    assert_error(archive_home.main("show", bad), "is not a record id (give at least 8 hex digits)")


def test_id_prefix_is_case_insensitive_and_full_id_works(archive_home: CliHome):
    real = _record(archive_home, "case")
    assert "case" in assert_ok(archive_home.main("show", real[:12].upper())).stdout
    assert "case" in assert_ok(archive_home.main("show", real)).stdout


# --- usage errors: exit 2, still no traceback ---------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["record", "--title", "t", "--consent", "maybe"], "Invalid value for '--consent'"),
    (["add"], "Missing argument 'PATHS...'"),
    (["show"], "Missing argument 'RECORD_ID'"),
    (["extract", "0123456789"], "Missing option '--out'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["init", "--kdf", "weak"], "Invalid value for '--kdf'"),
])
def test_usage_errors_exit_2(cli_home: CliHome, args, message):
    r = cli_home.main(*args)
    assert r.exit_code == 2, r
    assert "Traceback" not in r.output
    assert f"Error: {message}" in r.stderr


def test_version_and_help_exit_0(cli_home: CliHome):
    assert "testimony" in assert_ok(cli_home.main("--version")).stdout
    assert "Usage:" in assert_ok(cli_home.main("--help")).stdout


def test_secret_key_file_mode_after_init_is_kept_private(archive_home: CliHome):
    assert stat.S_IMODE((archive_home.keys / "identity.secret").stat().st_mode) == 0o600
