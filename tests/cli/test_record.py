"""`record`: text from --text-file, standard input or $EDITOR, the header block, and the
rule that a field given both as an option and in the header is an error."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from ..conftest import TEST_PASSPHRASE
from .helpers import HEX64, CliHome, assert_error, assert_ok, run_in_pty

HEADER_TEXT = ("title: Refused at the district hospital\n"
               "tags: hospital-refusal, almaty\n"
               "witness: W-17\n"
               "consent: legal\n"
               "location: Almaty, Zhetysu district\n"
               "language: ru\n"
               "---\n"
               "The nurse at the door said they had orders.\nNobody was let in.\n")


def _show(h: CliHome, record_id: str) -> dict:
    return json.loads(assert_ok(h.main("show", record_id, "--json")).stdout)


def _record_id(r) -> str:
    assert_ok(r)
    record_id = r.stdout.strip()
    assert HEX64.fullmatch(record_id), r
    return record_id


def _assert_header_fields(view: dict) -> None:
    assert view["fields"] == {
        "title": "Refused at the district hospital",
        "tags": ["almaty", "hospital-refusal"],
        "witness": {"pseudonym": "W-17", "consent": "legal"},
        "location": "Almaty, Zhetysu district",
        "language": "ru",
        "body": "The nurse at the door said they had orders.\nNobody was let in.\n",
    }
    assert view["kind"] == "testimony" and view["signature_valid"] is True


def test_record_from_text_file_with_header_block(archive_home: CliHome, tmp_path):
    text = tmp_path / "statement.txt"
    text.write_text(HEADER_TEXT)
    record_id = _record_id(archive_home.main("record", "--text-file", str(text)))
    _assert_header_fields(_show(archive_home, record_id))


def test_record_from_standard_input(archive_home: CliHome):
    record_id = _record_id(archive_home.main("record", "--text-file", "-", input=HEADER_TEXT.encode()))
    _assert_header_fields(_show(archive_home, record_id))


def test_record_from_standard_input_as_real_process(archive_home: CliHome):
    r = archive_home.run("record", "--text-file", "-", "--attach", str(Path(__file__)), input=HEADER_TEXT)
    view = _show(archive_home, _record_id(r))
    _assert_header_fields(view)
    assert view["attachments"][0]["name"] == Path(__file__).name


def test_stdin_is_never_read_as_the_passphrase(archive_home: CliHome):
    # No passphrase given and no terminal: refuse, rather than take the text's first line.
    r = archive_home.run("record", "--text-file", "-", input=TEST_PASSPHRASE + "\nthe text\n",
                         drop=("TESTIMONY_PASSPHRASE",), start_new_session=True)
    assert_error(r, "no passphrase given and no terminal to ask on")
    assert archive_home.record_ids() == []


def test_body_is_kept_byte_for_byte(archive_home: CliHome):
    body = "  Indented first line  \r\nCafe\u0301 (not normalised)\n\n\ttab\u00a0nbsp\n\n"
    record_id = _record_id(archive_home.main("record", "--title", "exact", "--text-file", "-",
                                             input=body.encode("utf-8")))
    assert _show(archive_home, record_id)["fields"]["body"] == body


def test_text_that_is_not_utf8(archive_home: CliHome):
    assert_error(archive_home.main("record", "--text-file", "-", input=b"caf\xe9 au lait\n"),
                 "the testimony text is not valid UTF-8")
    assert archive_home.record_ids() == []


def test_options_and_header_merge(archive_home: CliHome):
    text = "title: From the header\ntags: a, b\n---\nbody\n"
    record_id = _record_id(archive_home.main(
        "record", "--text-file", "-", "--tag", "c", "--tag", "a", "--witness", "W-9",
        "--consent", "public", "--location", "Taraz", input=text.encode()))
    fields = _show(archive_home, record_id)["fields"]
    # Tags from both places are merged (sorted, no repeats); other fields come from one place.
    assert fields["tags"] == ["a", "b", "c"]
    assert fields["title"] == "From the header"
    assert fields["witness"] == {"pseudonym": "W-9", "consent": "public"}
    assert fields["location"] == "Taraz"


@pytest.mark.parametrize("option, header_line", [
    (["--title", "T"], "title: T2"),
    (["--witness", "W-1"], "witness: W-2"),
    (["--consent", "legal"], "consent: public"),
    (["--location", "Almaty"], "location: Taraz"),
    (["--language", "kk"], "language: ru"),
])
def test_field_given_both_as_option_and_in_header_is_an_error(archive_home: CliHome, option, header_line):
    key = option[0][2:]
    text = f"witness: W-3\n{header_line}\n---\nbody\n" if key != "witness" else f"{header_line}\n---\nbody\n"
    r = archive_home.main("record", *option, "--text-file", "-", input=text.encode())
    assert_error(r, f"{key} is given both as --{key} and in the text header")
    assert archive_home.record_ids() == []


@pytest.mark.parametrize("text, message", [
    ("title: x\nwitnes: W-1\n---\nbody\n", "line 2 of the text header is not one of title, tags, witness"),
    ("title: x\ntitle: y\n---\nbody\n", "the text header gives 'title' twice"),
    ("witness: W-1\nconsent: maybe\n---\nbody\n", "consent must be one of internal, legal, public, not 'maybe'"),
    ("consent: legal\n---\nbody\n", "consent is given without a witness"),
])
def test_bad_header_block(archive_home: CliHome, text: str, message: str):
    assert_error(archive_home.main("record", "--text-file", "-", input=text.encode()), message)
    assert archive_home.record_ids() == []


def test_text_without_separator_is_all_body(archive_home: CliHome):
    text = "title: looks like a header\nbut there is no separator line\n"
    record_id = _record_id(archive_home.main("record", "--text-file", "-", input=text.encode()))
    assert _show(archive_home, record_id)["fields"] == {"body": text}


def test_witness_consent_defaults_to_internal(archive_home: CliHome):
    record_id = _record_id(archive_home.main("record", "--title", "t", "--witness", "W-5"))
    assert _show(archive_home, record_id)["fields"]["witness"] == {"pseudonym": "W-5", "consent": "internal"}


def test_supersedes(archive_home: CliHome):
    first = _record_id(archive_home.main("record", "--title", "first version"))
    second = _record_id(archive_home.main("record", "--title", "corrected", "--supersedes", first[:10]))
    view = _show(archive_home, second)
    assert view["supersedes"] == [first]
    assert f"Corrects:  {first[:16]}" in assert_ok(archive_home.main("show", second)).stdout
    assert_error(archive_home.main("record", "--title", "x", "--supersedes", "00000000000"),
                 "no record id starts with 00000000000")


def test_no_text_and_no_editor_on_a_pipe_records_title_only(archive_home: CliHome):
    record_id = _record_id(archive_home.main("record", "--title", "only a title",
                                             env={"EDITOR": "false"}))  # not a terminal: no editor
    assert _show(archive_home, record_id)["fields"] == {"title": "only a title"}


# --- $EDITOR --------------------------------------------------------------------------------

def _editor_script(tmp_path: Path, *, write: str, exit_code: int = 0) -> tuple[str, Path]:
    report = tmp_path / "editor-report.json"
    script = tmp_path / "fake_editor.py"
    script.write_text(textwrap.dedent(f"""\
        import json, os, stat, sys
        path = sys.argv[1]
        report = {{
            "path": path,
            "mode": stat.S_IMODE(os.stat(path).st_mode),
            "template": open(path, encoding="utf-8").read(),
            "passphrase_variable": sorted(k for k in os.environ if "PASSPHRASE" in k),
            "passphrase_value": any({TEST_PASSPHRASE!r} in v for v in os.environ.values()),
        }}
        with open({str(report)!r}, "w") as f:
            json.dump(report, f)
        with open(path, "w", encoding="utf-8") as f:
            f.write({write!r})
        sys.exit({exit_code})
        """))
    return f"{sys.executable} {script}", report


def test_record_in_editor(archive_home: CliHome, tmp_path):
    editor, report_path = _editor_script(tmp_path, write=HEADER_TEXT)
    env = {**archive_home.env, "EDITOR": editor}
    code, out = run_in_pty(["record"], env)
    text = out.decode().replace("\r", "")
    assert code == 0, text
    assert "Traceback" not in text
    record_id = HEX64.search(text).group(0)
    _assert_header_fields(_show(archive_home, record_id))

    report = json.loads(report_path.read_text())
    assert report["passphrase_variable"] == [] and report["passphrase_value"] is False
    assert report["mode"] == 0o600
    if os.path.isdir("/dev/shm"):
        assert report["path"].startswith("/dev/shm/"), "the draft belongs in a RAM-backed folder"
    assert not os.path.exists(report["path"]), "the draft must be removed afterwards"
    # The template offers the header block.
    for key in ("title:", "tags:", "witness:", "consent:", "location:"):
        assert key in report["template"]
    assert "\n---\n" in report["template"]


def test_editor_failure_records_nothing_and_removes_draft(archive_home: CliHome, tmp_path):
    editor, report_path = _editor_script(tmp_path, write="title: x\n---\nhalf\n", exit_code=3)
    code, out = run_in_pty(["record"], {**archive_home.env, "EDITOR": editor})
    text = out.decode().replace("\r", "")
    assert code == 1, text
    assert "Error: the editor exited with status 3; nothing recorded" in text
    assert "Traceback" not in text
    assert not os.path.exists(json.loads(report_path.read_text())["path"])
    assert archive_home.record_ids() == []


def test_editor_that_cannot_start(archive_home: CliHome, tmp_path):
    code, out = run_in_pty(["record"], {**archive_home.env, "EDITOR": str(tmp_path / "no-such-editor")})
    text = out.decode().replace("\r", "")
    assert code == 1, text
    assert "Error: could not start the editor" in text and "Traceback" not in text
    assert archive_home.record_ids() == []
