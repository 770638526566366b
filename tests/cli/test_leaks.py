"""Leak tests (issue 2): after recording a testimony with distinctive words, a witness
pseudonym, tags, a place and attachments, and adding evidence with distinctive names and
content, none of those strings (as UTF-8 bytes) appears in any file, or any file name,
under the archive home or the keys folder: archive.db and its -wal and -shm files
included. The passphrase appears in no file written and in no output."""

from __future__ import annotations

import os
from pathlib import Path

from archive.composing import compose_fields

from ..conftest import TEST_PASSPHRASE
from .helpers import CliHome, assert_ok, walk_files

SECRETS = {
    "identity name": "Team Quokka Sapphire",
    "title": "Zyxwvut clinic refused the wounded",
    "body words": "quixotically purple elephants guarded the ward",
    "body (Cyrillic)": "медсестра сказала приказ акимата",
    "witness": "W-ZANZIBAR-4471",
    "tag": "tag-marmalade-9931",
    "second tag": "tag-brontosaurus-2207",
    "location": "Ulaanbaatar Obscura district",
    "attachment name": "kumquat-letter-8812.pdf",
    "attachment content": "ATTACHMENT-CONTENT-PAPAYA-5531",
    "evidence folder": "folder-persimmon-6620",
    "evidence name": "rambutan-photo-3309.jpg",
    "evidence content": "EVIDENCE-CONTENT-DURIAN-1187",
    "library body": "a second testimony about the lemur archive",
}


def _leaks(h: CliHome, needles: dict[str, bytes]) -> list[str]:
    found = []
    scanned = 0
    for base in (h.home, h.keys):
        for path in walk_files(base):
            data = path.read_bytes()
            scanned += 1
            for what, needle in needles.items():
                if needle in data or needle in os.fsencode(path.relative_to(h.root)):
                    found.append(f"{what} in {path.relative_to(h.root)}")
    assert scanned >= 4, "the scan saw too few files to mean anything"
    return found


def test_nothing_readable_under_home_or_keys(cli_home: CliHome, tmp_path):
    h = cli_home
    outputs: list[str] = []

    def ok(r):
        assert_ok(r)
        outputs.append(r.output)
        return r

    ok(h.run("init", "--name", SECRETS["identity name"], "--kdf", "interactive"))
    files = tmp_path / "inputs"
    files.mkdir()
    attachment = files / SECRETS["attachment name"]
    attachment.write_text(SECRETS["attachment content"] * 50)
    (files / SECRETS["evidence folder"]).mkdir()
    (files / SECRETS["evidence folder"] / SECRETS["evidence name"]).write_text(SECRETS["evidence content"] * 50)
    text = (f"title: {SECRETS['title']}\ntags: {SECRETS['tag']}, {SECRETS['second tag']}\n"
            f"witness: {SECRETS['witness']}\nconsent: legal\nlocation: {SECRETS['location']}\n---\n"
            f"{SECRETS['body words']}\n{SECRETS['body (Cyrillic)']}\n")
    record_id = ok(h.run("record", "--text-file", "-", "--attach", str(attachment), input=text)).stdout.strip()
    ok(h.run("add", str(files / SECRETS["evidence folder"]), "--tag", SECRETS["tag"]))
    ok(h.main("list"))
    shown = ok(h.main("show", record_id)).stdout
    ok(h.main("search", SECRETS["witness"]))
    ok(h.main("verify"))
    ok(h.main("check", "--read-data"))
    ok(h.main("identity", "export", "--out", str(tmp_path / "card.pub")))
    # The words did go in (so their absence below means something).
    for key in ("title", "witness", "tag", "location", "attachment name"):
        assert SECRETS[key] in shown

    needles = {k: v.encode("utf-8") for k, v in SECRETS.items()}
    needles["passphrase"] = TEST_PASSPHRASE.encode("utf-8")
    assert _leaks(h, needles) == []

    # Once more with the index open and written to, so archive.db-wal and -shm exist.
    archive = h.open()
    try:
        archive.record(fields=compose_fields(text=SECRETS["library body"], title=SECRETS["title"],
                                             tags=[SECRETS["second tag"]], witness=SECRETS["witness"],
                                             consent="public", location=None, language=None))
        names = {p.name for p in h.home.iterdir()}
        assert {"archive.db", "archive.db-wal", "archive.db-shm"} <= names, names
        assert _leaks(h, needles) == []
    finally:
        archive.close()
    assert _leaks(h, needles) == []

    # The passphrase never appears in what was printed, either.
    for out in outputs:
        assert TEST_PASSPHRASE not in out


def test_key_folder_does_not_name_its_owner(archive_home: CliHome):
    # A found key stick: no identity name in clear, and the secret key file holds no
    # fingerprint or public key in clear either.
    identity = archive_home.open()
    try:
        card = identity.identity()
    finally:
        identity.close()
    secret = (archive_home.keys / "identity.secret").read_bytes()
    for needle in (card.name.encode(), card.fingerprint.encode(), bytes.fromhex(card.fingerprint),
                   card.sign_key, card.box_key, card.sign_key.hex().encode()):
        assert needle not in secret
    for path in walk_files(archive_home.keys):
        assert card.name.encode() not in path.read_bytes()


def test_passphrase_not_in_environment_of_children_or_files(archive_home: CliHome, tmp_path):
    # --passphrase-file: the passphrase is read, never copied anywhere under home or keys.
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text(TEST_PASSPHRASE + "\n")
    r = assert_ok(archive_home.run("record", "--title", "t", "--passphrase-file", str(pass_file),
                                   drop=("TESTIMONY_PASSPHRASE",)))
    assert TEST_PASSPHRASE not in r.output
    for base in (archive_home.home, archive_home.keys):
        for path in walk_files(base):
            assert TEST_PASSPHRASE.encode() not in path.read_bytes(), path
    assert not list(Path(tmp_path).glob("**/*.tmp"))
