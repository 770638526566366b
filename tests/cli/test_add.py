"""`add`: duplicates and the summary line, --json, the progress bar only on a terminal,
and Ctrl-C: what was committed stays, the rest leaves no trace."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from .helpers import REPO, CliHome, assert_ok, run_in_pty

SUMMARY = re.compile(r"^(\d+) files, ([\d,.]+) MB: (\d+) new, (\d+) duplicates, ([\d,]+) MB/s$", re.M)


def _corpus(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"photo A" * 1000)
    (folder / "b.jpg").write_bytes(b"photo A" * 1000)        # same bytes as a.jpg
    (folder / "sub" / "c.pdf").write_bytes(os.urandom(300_000))
    (folder / "sub" / "d.txt").write_bytes(b"")
    return folder


def test_add_reports_duplicates_and_summary(archive_home: CliHome, tmp_path):
    folder = _corpus(tmp_path / "stick")
    r = assert_ok(archive_home.main("add", str(folder), "--tag", "clinic"))
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"duplicate: stick/b\.jpg \(already stored as [0-9a-f]{16}\)", lines[0]), r.stdout
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout
    assert (m.group(1), m.group(3), m.group(4)) == ("4", "3", "1")
    assert m.group(2) == "0.3"
    assert len(lines) == 2
    # The duplicate names the record that already holds those bytes.
    listed = json.loads(assert_ok(archive_home.main("list", "--json")).stdout)
    a_id = next(x["id"] for x in listed if x["title"] == "stick/a.jpg")
    assert lines[0].endswith(f"(already stored as {a_id[:16]})")
    assert all(x["tags"] == ["clinic"] and x["kind"] == "evidence" for x in listed)

    # Again: everything is a duplicate, nothing new is stored.
    packs = archive_home.packs()
    r = assert_ok(archive_home.main("add", str(folder)))
    m = SUMMARY.search(r.stdout)
    assert (m.group(1), m.group(3), m.group(4)) == ("4", "0", "4")
    assert r.stdout.count("duplicate: ") == 4
    assert archive_home.packs() == packs


def test_add_json(archive_home: CliHome, tmp_path):
    folder = _corpus(tmp_path / "stick")
    r = assert_ok(archive_home.main("add", str(folder), "--json"))
    data = json.loads(r.stdout)
    assert set(data) >= {"files", "bytes", "new", "duplicates", "seconds", "records", "duplicate_files"}
    assert (data["files"], data["bytes"], data["new"], data["duplicates"]) == (4, 314_000, 3, 1)
    assert isinstance(data["seconds"], (int, float))
    assert sorted(x["name"] for x in data["records"]) == ["stick/a.jpg", "stick/sub/c.pdf", "stick/sub/d.txt"]
    assert all(set(x) == {"name", "id"} and len(x["id"]) == 64 for x in data["records"])
    assert data["duplicate_files"] == [
        {"name": "stick/b.jpg", "id": next(x["id"] for x in data["records"] if x["name"] == "stick/a.jpg")}]


def test_add_same_file_given_twice_in_one_run(archive_home: CliHome, tmp_path):
    f = tmp_path / "x.jpg"
    f.write_bytes(b"same")
    data = json.loads(assert_ok(archive_home.main("add", str(f), str(f), "--json")).stdout)
    assert (data["new"], data["duplicates"]) == (1, 1)
    assert len(archive_home.record_ids()) == 1


def test_progress_bar_only_on_a_terminal(archive_home: CliHome, tmp_path):
    folder = _corpus(tmp_path / "stick")
    r = assert_ok(archive_home.run("add", str(folder)))
    assert r.stderr == "", "no progress bar when piped"
    (folder / "e.bin").write_bytes(os.urandom(1000))
    code, out = run_in_pty(["add", str(folder)], archive_home.env)
    text = out.decode()
    assert code == 0, text
    assert "Adding 5 files" in text and "%" in text
    assert "1 new, 4 duplicates" in text


def _big_corpus(folder: Path, count: int, size: int) -> None:
    folder.mkdir()
    block = os.urandom(size)
    for i in range(count):
        # Distinct files (so each is new work) without paying for fresh randomness each.
        (folder / f"f{i:04d}.bin").write_bytes(i.to_bytes(8, "big") + block[8:])


def test_ctrl_c_during_add_keeps_what_was_committed_and_nothing_else(archive_home: CliHome, tmp_path):
    folder = tmp_path / "big"
    count = 160
    _big_corpus(folder, count, 1024 * 1024)  # 160 MiB: several packs of ~16 MiB
    # A suite started in the background (CI, nohup) inherits SIGINT ignored, and Python
    # keeps an ignored SIGINT ignored: give the child the default, as a terminal would.
    p = subprocess.Popen([sys.executable, "-m", "cli", "add", str(folder)], cwd=REPO,
                         env=archive_home.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Wait until its first pack is in packs/ (a batch about to commit, or committed),
    # then press Ctrl-C at once: on a quiet machine the whole add takes well under a
    # second, so a fixed pause here could let it finish first.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None and not archive_home.packs():
        time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    out_text, err_text = out.decode(), err.decode()
    assert p.returncode == 1, (p.returncode, out_text, err_text)
    assert "Traceback" not in out_text + err_text
    assert [l for l in err_text.splitlines() if l.strip()] == [
        "Interrupted: what was already committed is kept; nothing else was written."]
    assert out_text == ""

    indexed = archive_home.record_ids()
    # Nothing half-written: tmp/ is empty after the next open, and every pack, object and
    # record there checks out. A pack renamed into packs/ just before its index commit was
    # interrupted is adopted on that open (DESIGN.md: packs are the truth), and its
    # records are indexed once the keys are unlocked.
    assert_ok(archive_home.main("check"))
    assert archive_home.tmp_files() == []
    r = assert_ok(archive_home.main("check", "--read-data"))
    assert r.stdout.endswith(": ok\n")
    committed = archive_home.record_ids()
    assert set(indexed) <= set(committed)
    assert len(committed) < count, "the add finished before Ctrl-C: make the corpus larger"
    r = assert_ok(archive_home.main("verify"))
    assert f"{len(committed)} of {len(committed)} records verified" in r.stdout

    # Adding again completes: a record for every file, the committed ones as duplicates.
    r = assert_ok(archive_home.main("add", str(folder), "--json"))
    data = json.loads(r.stdout)
    assert (data["files"], data["new"], data["duplicates"]) == (count, count - len(committed), len(committed))
    names = {x["title"] for x in json.loads(assert_ok(archive_home.main("list", "--json")).stdout)}
    assert names == {f"big/f{i:04d}.bin" for i in range(count)}
    assert_ok(archive_home.main("check"))
