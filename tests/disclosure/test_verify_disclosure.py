"""`verify-disclosure DIR`: a good package passes every named check; each bad input of
issue 4 names the check that failed and exits 1.

The sweep goes through `verify_package` (fast); a few cases run `python -m cli` for the
exact output. Tampering that rewrites SHA256SUMS (`resum`) is what an attacker who edits
the folder would do: then the deeper check, not `files`, must notice.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import subprocess

import pytest

from archive import disclosure as D
from archive.encoding import canonical

from .conftest import LETTER, assert_error, copy_package, failed, package_files, resum
from tests.sync.conftest import REPO, Result

CHECKS = ["files", "author card", "signature", "ssh signature", "record id", "revealed fields",
          "attachments", "custody"]


def verify_cli(folder, *args: str, cwd=None) -> Result:
    """`python -m cli verify-disclosure` with no archive, no keys and no passphrase around."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIMONY_")}
    env.update(PYTHONPATH=str(REPO), HOME=str(folder.parent), XDG_DATA_HOME=str(folder.parent / "none"))
    p = subprocess.run([sys.executable, "-m", "cli", "verify-disclosure", str(folder), *args],
                       capture_output=True, env=env, cwd=cwd or folder.parent, timeout=60)
    return Result(p.returncode, p.stdout.decode(), p.stderr.decode())


def _edit_json(path, change) -> None:
    value = json.loads(path.read_bytes())
    change(value)
    path.write_bytes(canonical(value))


# --- a good package --------------------------------------------------------------------------

def test_good_package_every_check_ok(scene):
    report = D.verify_package(scene.pkg)
    assert report.ok and [c.name for c in report.checks] == CHECKS
    assert all(c.ok for c in report.checks)
    assert report.record == scene.full
    assert report.author.name == "field site" and report.author.fingerprint == scene.world["field"].fingerprint
    # Causal order: field records and exports; archive imports, then discloses and exports
    # to lawyer (both one hop after its import: the event order breaks the tie).
    assert [e["event"] for e in report.custody] == ["recorded", "exported", "imported", "disclosed", "exported"]
    assert all(e["log_size"] >= 1 for e in report.custody)


def test_cli_good_package_verdict(scene):
    """Needs no archive, no key and no passphrase."""
    r = verify_cli(scene.pkg, cwd=scene.pkg)
    assert r.exit_code == 0 and r.stderr == "", r
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"ok      {c}" for c in CHECKS]
    short = scene.world["field"].card.short_fingerprint
    # Attachments are revealed in the envelope's order (by digest), so either may come first.
    head, files, tail = lines[-1].partition("attachment 'letter.txt'")
    assert head in (f"VERIFIED: record {scene.full[:16]} was signed by key {short}; revealed: title, body, ",
                    f"VERIFIED: record {scene.full[:16]} was signed by key {short}; revealed: title, body, "
                    "attachment 'photo.jpg', ")
    assert tail in ("; hidden: 4 field(s) and 0 attachment(s); 5 custody events checked",
                    ", attachment 'photo.jpg'; hidden: 4 field(s) and 0 attachment(s); 5 custody events checked")
    assert lines[-1].count("attachment '") == 2


def test_cli_good_package_json(scene):
    r = verify_cli(scene.pkg, "--json")
    assert r.exit_code == 0, r
    out = json.loads(r.stdout)
    assert set(out) == {"ok", "verdict", "record", "author_fingerprint", "author_name", "signer",
                        "revealed", "hidden", "files", "custody", "checks"}
    assert out["ok"] is True and out["verdict"].startswith("VERIFIED: ")
    assert (out["record"], out["author_fingerprint"]) == (scene.full, scene.world["field"].fingerprint)
    assert out["hidden"] == {"fields": 4, "attachments": 0} and out["signer"] == ""
    assert [c["name"] for c in out["checks"]] == CHECKS and all(c["ok"] for c in out["checks"])
    assert {f["path"]: f["size"] for f in out["files"]} == {"files/letter.txt": len(LETTER),
                                                            "files/photo.jpg": 768}
    assert set(out["custody"][0]) == {"event", "time", "actor", "peer", "bundle", "log_size", "head_time"}


def test_cli_pinned_names_the_author_as_the_verifier_knows_it(scene):
    r = scene.world["archive"].run("verify-disclosure", str(scene.pkg), "--pinned")
    assert r.exit_code == 0, r
    assert "(field (field), pinned " in r.stdout.splitlines()[-1]
    r = scene.world["lawyer"].run("verify-disclosure", str(scene.pkg), "--pinned", "--json")
    assert json.loads(r.stdout)["signer"] == "not pinned in your archive"


def test_cli_not_a_folder(tmp_path):
    assert_error(verify_cli(tmp_path / "nothing-here"), "is not a folder")


# --- every file, every changed byte ------------------------------------------------------------

def test_changed_byte_in_every_file(pkg):
    """Flip one bit of the first, middle and last byte of every file, and of every byte
    of SHA256SUMS itself: `files` fails each time."""
    names = package_files(pkg)
    assert len(names) == 10
    tried = 0
    for name in names:
        path = pkg / name
        original = path.read_bytes()
        spots = range(len(original)) if name == D.SUMS else {0, len(original) // 2, len(original) - 1}
        for at in spots:
            changed = bytearray(original)
            changed[at] ^= 0x01
            path.write_bytes(changed)
            report = D.verify_package(pkg)
            assert failed(report)[0] == "files", (name, at, report.verdict())
            tried += 1
        path.write_bytes(original)
    assert tried > len((pkg / D.SUMS).read_bytes()) + 2 * 9 and D.verify_package(pkg).ok


def test_missing_file(pkg):
    for name in package_files(pkg):
        if name == D.SUMS:
            continue
        data = (pkg / name).read_bytes()
        (pkg / name).unlink()
        assert failed(D.verify_package(pkg)) == ("files", f"file(s) missing: {name}")
        (pkg / name).write_bytes(data)
    (pkg / D.SUMS).unlink()
    assert failed(D.verify_package(pkg)) == ("files", "SHA256SUMS is missing")


def test_missing_file_cli(pkg):
    os.unlink(pkg / "files" / "letter.txt")
    r = verify_cli(pkg)
    assert r.exit_code == 1 and r.stderr == "", r
    assert r.stdout.splitlines() == ["FAILED  files: file(s) missing: files/letter.txt",
                                     "NOT VERIFIED: files failed: file(s) missing: files/letter.txt"]


@pytest.mark.parametrize("extra", ["notes.txt", "files/another.jpg", ".hidden"])
def test_extra_file(pkg, extra):
    (pkg / extra).write_bytes(b"added after packaging")
    assert failed(D.verify_package(pkg)) == ("files", f"file(s) not in SHA256SUMS: {extra}")


def test_extra_file_cli(pkg):
    (pkg / "files" / "another.jpg").write_bytes(b"added after packaging")
    r = verify_cli(pkg, "--json")
    assert r.exit_code == 1, r
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["checks"][-1] == {
        "name": "files", "ok": False, "detail": "file(s) not in SHA256SUMS: files/another.jpg"}


# --- rewritten files with SHA256SUMS recomputed: the deeper check names itself -------------------

def test_swapped_author_card(scene, pkg):
    shutil.copyfile(scene.world["courier"].card_path, pkg / D.AUTHOR_CARD)
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("author card", "author.pub is not the card of the statement's author")


def test_swapped_author_card_cli(scene, pkg):
    shutil.copyfile(scene.world["stranger"].card_path, pkg / D.AUTHOR_CARD)
    resum(pkg)
    r = verify_cli(pkg)
    assert r.exit_code == 1 and r.stdout.splitlines() == [
        "ok      files: 9 files match SHA256SUMS",
        "FAILED  author card: author.pub is not the card of the statement's author",
        "NOT VERIFIED: author card failed: author.pub is not the card of the statement's author"], r


@pytest.mark.parametrize("name, value", [
    ("title", "Refusal at the clinic (corrected)"),
    ("body", "Nobody turned us away.\n"),
])
def test_revealed_field_differs_from_its_commitment(pkg, name, value):
    def change(d):
        [item] = [i for i in d["revealed"] if i[1] == name]
        item[2] = value
    _edit_json(pkg / D.DISCLOSURE, change)
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("revealed fields", f"disclosed {name} does not match the signed statement")


def test_hidden_field_guessed_is_not_a_revelation(pkg):
    """Adding a field with a made-up salt does not match any commitment."""
    _edit_json(pkg / D.DISCLOSURE, lambda d: d["revealed"].append(["00" * 16, "location", "Somewhere else"]))
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("revealed fields", "disclosed location does not match the signed statement")


def test_revealed_field_twice(pkg):
    _edit_json(pkg / D.DISCLOSURE, lambda d: d["revealed"].append(d["revealed"][0]))
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("revealed fields", "a field is revealed twice")


def test_attachment_replaced_with_sums_recomputed(pkg):
    changed = bytearray((pkg / "files" / "letter.txt").read_bytes())
    changed[10] ^= 0x20
    (pkg / "files" / "letter.txt").write_bytes(changed)
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("attachments", "files/letter.txt is not the file the author signed")


def test_attachment_entry_rewritten(pkg):
    def change(d):
        for entry in d["files"]:
            entry["sha256"] = "ab" * 32
    _edit_json(pkg / D.DISCLOSURE, change)
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "attachments" and detail.startswith("the file entry for ") and detail.endswith(" is wrong")


def test_attachment_entry_pointing_outside(pkg):
    def change(d):
        d["files"][0]["path"] = "files/../statement.json"
    _edit_json(pkg / D.DISCLOSURE, change)
    resum(pkg)
    assert failed(D.verify_package(pkg))[0] == "attachments"


def test_statement_changed_with_sums_recomputed(pkg):
    _edit_json(pkg / D.STATEMENT, lambda s: s["author"].update(name="Someone else"))
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "signature" and "signature" in detail


def test_ssh_signature_by_another_key(scene, pkg, tmp_path):
    other = copy_package(scene.pkg, tmp_path / "other")
    with scene.world["archive"].open() as a:   # archive's own record: a different author
        rid = a.record(fields={"title": "Archive's own note"})
        a.disclose(rid, tmp_path / "own")
    shutil.copyfile(tmp_path / "own" / D.SSH_SIGNATURE, pkg / D.SSH_SIGNATURE)
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("ssh signature", "statement.json.sig is by another key")
    assert D.verify_package(other).ok


def test_allowed_signers_changed(scene, pkg):
    from archive import sshsig
    courier = scene.world["courier"].card
    (pkg / D.ALLOWED_SIGNERS).write_text(sshsig.allowed_signers_line(D.SSH_PRINCIPAL, courier.sign_key))
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("ssh signature", "allowed_signers does not hold exactly the author's key")


def test_disclosure_names_another_record(scene, pkg):
    _edit_json(pkg / D.DISCLOSURE, lambda d: d.update(record=scene.legal))
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("record id", "disclosure.json names another record")


# --- custody ------------------------------------------------------------------------------------

def _events(pkg) -> list[dict]:
    return json.loads((pkg / D.CUSTODY).read_bytes())["events"]


def _index_of(pkg, event: str, by: str = "") -> int:
    """Where the `event` (by this actor fingerprint, if given) sits in custody.json."""
    [at] = [i for i, e in enumerate(_events(pkg)) if e["event"]["event"] == event
            and (not by or e["event"]["actor"]["sign_key"] == by)]
    return at


@pytest.mark.parametrize("event, by, detail", [
    ("recorded", "field", "the author's `recorded` event is missing"),
    ("exported", "field", "an `imported` event has no `exported` event of its bundle"),
    ("imported", "archive", "an actor exported or disclosed the record without a custody event "
                            "showing it held it"),
    ("exported", "archive", None),
    ("disclosed", "archive", "the `disclosed` event is missing"),
])
def test_custody_event_removed(scene, pkg, event, by, detail):
    """What removal is detected, and what is not.

    Each actor's log proves that an event is in it, never that an actor has no other
    event for this record: the package cannot show a whole log without showing every
    other record's custody. So completeness is checked along the chain: the author's
    `recorded` event must be there; each `imported` event needs the `exported` event
    of its bundle; an actor that exported or disclosed must show how it held the record
    (it recorded or imported it); and the package's `disclosed` event must be there.
    Removing any event on the path from `recorded` to `disclosed` therefore fails
    `custody`.

    Not detected: a dead-end hop, an export (here archive → lawyer) whose import never
    came back to the discloser; removing it leaves a chain that is still whole, and the
    package still verifies with one event fewer.
    """
    items = _events(pkg)
    doomed = _index_of(pkg, event, scene.world[by].card.sign_key.hex())
    if event == "exported":   # field → archive is continued by archive's import; archive → lawyer not
        continued = items[doomed]["event"]["bundle"] == items[_index_of(pkg, "imported")]["event"]["bundle"]
        assert continued == (by == "field")
    _edit_json(pkg / D.CUSTODY, lambda c: c["events"].pop(doomed))
    resum(pkg)
    report = D.verify_package(pkg)
    if detail is None:
        assert report.ok and len(report.custody) == 4
    else:
        assert failed(report) == ("custody", detail)


def test_custody_events_reordered_still_verify(scene, pkg):
    """The order of custody.json is not semantic: the causal order is derived from the
    hops (recorded → export → import of that bundle) and shown the same way."""
    original = D.verify_package(scene.pkg).custody
    shuffled = list(range(len(_events(pkg))))
    random.Random(4).shuffle(shuffled)
    assert shuffled != sorted(shuffled)
    _edit_json(pkg / D.CUSTODY, lambda c: c.update(events=[c["events"][i] for i in shuffled]))
    resum(pkg)
    report = D.verify_package(pkg)
    assert report.ok and report.custody == original


def test_custody_events_swapped_in_their_log(scene, pkg):
    """Claiming two events sit at each other's place in their actor's log breaks both proofs."""
    field = scene.world["field"].card.sign_key.hex()
    rec, exp = _index_of(pkg, "recorded"), _index_of(pkg, "exported", field)

    def change(c):
        a, b = c["events"][rec], c["events"][exp]
        a["inclusion"], b["inclusion"] = b["inclusion"], a["inclusion"]
    _edit_json(pkg / D.CUSTODY, change)
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "custody" and "is not in its actor's log as its inclusion proof claims" in detail


@pytest.mark.parametrize("what", ["signature", "time", "peer"])
def test_custody_event_forged(scene, pkg, what):
    at = _index_of(pkg, "exported", scene.world["field"].card.sign_key.hex())

    def change(c):
        e = c["events"][at]["event"]
        if what == "signature":
            e["signature"] = ("0" if e["signature"][0] != "0" else "1") + e["signature"][1:]
        elif what == "time":
            e["time"] = "2020-01-01T00:00:00Z"
        else:
            e["peer"] = "ab" * 32
    _edit_json(pkg / D.CUSTODY, change)
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "custody" and "has a bad signature" in detail and "exported" in detail


@pytest.mark.parametrize("what", ["a proof hash", "the index", "the head named"])
def test_inclusion_proof_tampered(pkg, what):
    at = _index_of(pkg, "recorded")

    def change(c):
        inclusion = c["events"][at]["inclusion"]
        if what == "a proof hash":
            inclusion["proof"][0] = "00" * 32
        elif what == "the index":
            inclusion["index"] += 1
        else:
            other = next(i for i in c["events"] if i["inclusion"]["head"] != inclusion["head"])
            inclusion["head"] = other["inclusion"]["head"]
    _edit_json(pkg / D.CUSTODY, change)
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "custody" and "is not in its actor's log as its inclusion proof claims" in detail


def test_inclusion_proof_removed(pkg):
    _edit_json(pkg / D.CUSTODY, lambda c: c["events"][0].update(inclusion=None))
    resum(pkg)
    assert failed(D.verify_package(pkg)) == ("custody", "1 custody event(s) carry no log inclusion proof")


@pytest.mark.parametrize("what", ["size", "root", "time", "removed"])
def test_tree_head_tampered(pkg, what):
    def change(c):
        head = c["heads"][0]
        if what == "size":
            head["size"] += 1
        elif what == "root":
            head["root"] = "00" * 32
        elif what == "time":
            head["time"] = "2020-01-01T00:00:00Z"
        else:
            c["heads"].pop(0)
    _edit_json(pkg / D.CUSTODY, change)
    resum(pkg)
    name, detail = failed(D.verify_package(pkg))
    assert name == "custody"
    assert detail == ("an inclusion proof names a tree head that was not given" if what == "removed"
                      else "a custody log's tree head has a bad signature")


def test_custody_tampered_cli(pkg):
    at = _index_of(pkg, "imported")
    _edit_json(pkg / D.CUSTODY, lambda c: c["events"][at]["event"].update(time="2020-01-01T00:00:00Z"))
    resum(pkg)
    r = verify_cli(pkg)
    assert r.exit_code == 1 and r.stderr == "", r
    lines = r.stdout.splitlines()
    assert lines[-2].startswith("FAILED  custody: a custody event (imported of envelope ")
    assert lines[-1].startswith("NOT VERIFIED: custody failed: ") and lines[-1].endswith("has a bad signature")


# --- the folder itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["files/letter.txt", "statement.json", "SHA256SUMS"])
def test_symlink_in_package_refused(pkg, tmp_path, target):
    """A file replaced by a link to an identical copy outside: refused, not followed."""
    outside = tmp_path / "outside"
    outside.write_bytes((pkg / target).read_bytes())
    (pkg / target).unlink()
    (pkg / target).symlink_to(outside)
    name, detail = failed(D.verify_package(pkg))
    assert name == "files"
    assert detail == ("SHA256SUMS is missing" if target == D.SUMS else f"{target} is a symbolic link")


def test_symlinked_files_folder_refused(pkg, tmp_path):
    shutil.move(pkg / "files", tmp_path / "elsewhere")
    (pkg / "files").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    name, detail = failed(D.verify_package(pkg))
    assert name == "files" and "files" in detail


def test_extra_symlink_refused(pkg):
    (pkg / "link").symlink_to("/etc/passwd")
    assert failed(D.verify_package(pkg)) == ("files", "file(s) not in SHA256SUMS: link")


@pytest.mark.parametrize("name", ["../outside.txt", "files/../../outside.txt", "/etc/passwd",
                                  "files/../statement.json"])
def test_dotdot_or_absolute_path_in_sums_refused(pkg, tmp_path, name):
    (tmp_path / "outside.txt").write_bytes(b"not part of the package")
    digest = "0" * 64
    with open(pkg / D.SUMS, "a") as f:
        f.write(f"{digest}  {name}\n")
    assert failed(D.verify_package(pkg)) == ("files", "SHA256SUMS has a malformed line")


@pytest.mark.parametrize("text", ["", "no two spaces here\n", "abc  statement.json\n"])
def test_malformed_sums_refused(pkg, text):
    (pkg / D.SUMS).write_text(text)
    assert failed(D.verify_package(pkg))[0] == "files"


def test_sums_lines_end_only_at_newline(pkg):
    """sha256sum splits SHA256SUMS at "\\n" only; so must we (a vertical tab is not a line end)."""
    text = (pkg / D.SUMS).read_text()
    for other in ("\v", "\f", "\r", "\x1c", "\u2028"):
        (pkg / D.SUMS).write_text(text.replace("\n", other, 1))
        assert failed(D.verify_package(pkg))[0] == "files", repr(other)
    (pkg / D.SUMS).write_text(text.removesuffix("\n"))
    assert failed(D.verify_package(pkg)) == ("files", "SHA256SUMS has a malformed line")
