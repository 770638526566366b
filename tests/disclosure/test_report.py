"""`verify ID --report FILE.html`: one self-contained page, parsed back with html.parser.

The page must carry the verdict, the record id, the author's fingerprint and every
file's SHA-256 in their elements, have no script and load nothing from elsewhere, never
replace an existing file, and say NOT VERIFIED (exit 1) for a damaged record.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import LETTER, PHOTO, assert_error

VOID = {"meta", "br", "link", "img", "input", "hr", "col", "base", "area", "source", "wbr"}


class Page(HTMLParser):
    """Every start tag with its attributes, the text of each element with an id, and the
    text of each element by class, as a browser would see them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.by_id: dict[str, str] = {}
        self.by_class: dict[str, list[str]] = {}
        self.classes_of: dict[str, list[str]] = {}
        self._open: list[tuple[str, dict[str, str | None]]] = []
        self._text: list[list[str]] = []
        self.text = ""
        self.feed(text)
        self.close()
        assert not self._open, f"unclosed elements: {[t for t, _ in self._open]}"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in VOID:
            return
        self._open.append((tag, attrs))
        self._text.append([])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        open_tag, attrs = self._open.pop()
        assert open_tag == tag, f"</{tag}> closes <{open_tag}>"
        text = "".join(self._text.pop())
        if self._text:
            self._text[-1].append(text)
        if attrs.get("id"):
            self.by_id[attrs["id"]] = text
            self.classes_of[attrs["id"]] = (attrs.get("class") or "").split()
        for cls in (attrs.get("class") or "").split():
            self.by_class.setdefault(cls, []).append(text)

    def handle_data(self, data):
        if self._text:
            self._text[-1].append(data)
        self.text += data


def _assert_self_contained(page: Page, raw: str) -> None:
    assert [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed", "link", "img")] == []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert name not in ("src", "href", "srcset", "action", "data") and not name.startswith("on"), (tag, attrs)
    assert "http:" not in raw and "https:" not in raw and "url(" not in raw and "@import" not in raw
    assert raw.startswith("<!DOCTYPE html>")


def test_report_of_a_verified_record(busy_world, scene, tmp_path):
    site, out = busy_world["archive"], tmp_path / "report.html"
    r = site.run("verify", scene.full[:12], "--report", str(out))
    assert r.exit_code == 0 and r.stderr == "", r
    assert r.stdout.splitlines()[-1] == "1 of 1 records verified"
    raw = out.read_text(encoding="utf-8")
    page = Page(raw)
    _assert_self_contained(page, raw)
    assert page.by_id["verdict"] == "VERIFIED: the signature, every field commitment and every file hash hold"
    assert page.classes_of["verdict"] == ["verdict", "ok"]
    assert page.by_id["record"] == scene.full
    assert page.by_id["fingerprint"] == busy_world["field"].fingerprint
    assert sorted(page.by_class["sha256"]) == sorted(hashlib.sha256(d).hexdigest() for d in (LETTER, PHOTO))
    for name in ("letter.txt", "photo.jpg"):
        assert name in page.text
    assert "Refusal at the clinic" in page.text
    # The custody timeline: each event, each with its log inclusion.
    assert page.text.count("signature valid; in its log at #") >= 5
    assert "not proven in a log" not in page.text
    assert out.stat().st_mode & 0o777 == 0o600


def test_report_never_overwrites(busy_world, scene, tmp_path):
    site, out = busy_world["archive"], tmp_path / "report.html"
    out.write_bytes(b"<p>the court's own page</p>")
    assert_error(site.run("verify", scene.full[:12], "--report", str(out)),
                 f"{out} already exists; nothing was overwritten")
    assert out.read_bytes() == b"<p>the court's own page</p>"


def _envelope_and_chunk(site, record_id: str) -> tuple[tuple, tuple]:
    """(pack, offset, length) of the record's envelope, and of its biggest chunk."""
    with closing(sqlite3.connect(site.home / "archive.db")) as db:
        envelope = db.execute("SELECT envelope FROM records WHERE id = ?", [record_id]).fetchone()[0]
        rows = db.execute("SELECT id, pack, offset, length, kind FROM objects").fetchall()
    env = next(r for r in rows if r[0] == envelope)
    chunk = max((r for r in rows if r[4] == "chunk"), key=lambda r: r[3])
    return env[1:4], chunk[1:4]


def _flip(site, where: tuple) -> None:
    pack, offset, length = where
    path = site.home / "packs" / pack[:2] / pack
    with open(path, "r+b") as f:
        f.seek(offset + length // 2)
        b = f.read(1)
        f.seek(offset + length // 2)
        f.write(bytes([b[0] ^ 0x01]))


@pytest.mark.parametrize("damaged", ["attachment", "envelope"])
def test_report_of_a_tampered_record(scene_world, scene, tmp_path, damaged):
    site, out = scene_world["archive"], tmp_path / "report.html"
    envelope, chunk = _envelope_and_chunk(site, scene.full)
    _flip(site, chunk if damaged == "attachment" else envelope)
    r = site.run("verify", scene.full[:12], "--report", str(out))
    assert r.exit_code == 1 and "Traceback" not in r.stderr and r.stderr == "", r
    assert r.stdout.splitlines()[-1] == "0 of 1 records verified; 1 FAILED"
    raw = out.read_text(encoding="utf-8")
    page = Page(raw)
    _assert_self_contained(page, raw)
    assert page.by_id["verdict"].startswith("NOT VERIFIED: ")
    assert page.classes_of["verdict"] == ["verdict", "bad"]
    assert page.by_id["record"] == scene.full
    if damaged == "attachment":
        assert "attachment 'letter.txt'" in page.by_id["verdict"] or "attachment 'photo.jpg'" in page.by_id["verdict"]
