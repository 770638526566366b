"""Fixtures for sync tests: a small world of pinned archives, cloned per test.

Creating and unlocking an archive costs an Argon2id derivation (~0.1 s with the
`interactive` profile), so the world is built once per session in a template folder;
each test that changes archives gets its own copy (`world.clone(tmp_path)`), which costs
a folder copy. The sites are those of the demo:

    field     records testimony; pins courier, archive, lawyer
    courier   carries bundles it cannot read; pins field, archive
    archive   keeps everything; pins courier, field, lawyer
    lawyer    pins archive only (so field's records are "unverified author" there)
    stranger  knows archive's card, but nobody pins it

Each archive names its peers by site name ("field", "courier", ...).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from archive import constants as C
from archive.api import Archive, utc_now
from archive.bundle import BundleWriter, encode_manifest
from archive import crypto
from archive.keys import IdentityCard, parse_card

from ..conftest import TEST_KDF, TEST_PASSPHRASE

REPO = Path(__file__).resolve().parents[2]
PREFIX = C.BUNDLE_STANZAS * C.BUNDLE_STANZA_BYTES + C.SECRETSTREAM_HEADER_BYTES   # 344
SEALED_MESSAGE = C.BUNDLE_MESSAGE_BYTES + C.SECRETSTREAM_ABYTES                     # 65553

PINS = {
    "field": [("courier", "courier"), ("archive", "archivist"), ("lawyer", "lawyer")],
    "courier": [("field", "field"), ("archive", "archivist")],
    "archive": [("courier", "courier"), ("field", "field"), ("lawyer", "lawyer")],
    "lawyer": [("archive", "archivist")],
    "stranger": [("archive", "archivist")],
}


class Site:
    """One archive (home + keys) under `root`, named after its site."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = Path(root), name
        self.home, self.keys = self.root / "home", self.root / "keys"
        self.card_path = self.root / "card.pub"

    @property
    def card(self) -> IdentityCard:
        return parse_card(self.card_path.read_bytes())

    @property
    def fingerprint(self) -> str:
        return self.card.fingerprint

    @property
    def revocation_cert(self) -> Path:
        return self.keys / "revocation.cert"

    def create(self) -> None:
        with Archive.create(self.home, self.keys, name=f"{self.name} site", passphrase=TEST_PASSPHRASE,
                            kdf=TEST_KDF) as a:
            a.export_identity(self.card_path)

    @contextmanager
    def open(self, now: Callable[[], str] | None = None) -> Iterator[Archive]:
        a = Archive(self.home, self.keys, now=now or utc_now)
        try:
            a.unlock(TEST_PASSPHRASE)
            yield a
        finally:
            a.close()

    # --- looking inside, without the keys -------------------------------------------------
    def db(self):
        return closing(sqlite3.connect(self.home / "archive.db", isolation_level=None))

    def state(self) -> dict:
        """Everything an import may change, read as another process would: every index
        table's rows, every pack file's hash, and what lies in tmp/."""
        tables = {}
        with self.db() as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for name in sorted(names):
                tables[name] = sorted(db.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
        packs = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in (self.home / "packs").glob("*/*")}
        return {"tables": tables, "packs": packs,
                "tmp": sorted(p.name for p in (self.home / "tmp").iterdir())}

    def summary(self) -> dict:
        """What a bundle import adds: record ids, object ids, custody rows, bundles received.
        (Journal objects are left out: each is sealed with a fresh nonce.)"""
        with self.db() as db:
            q = lambda sql: {r[0] for r in db.execute(sql)}  # noqa: E731
            return {"records": q("SELECT id FROM records"),
                    "objects": q("SELECT id FROM objects WHERE kind != 'journal'"),
                    "custody": db.execute("SELECT COUNT(*) FROM custody").fetchone()[0],
                    "received": q("SELECT bundle FROM received"),
                    "peer_has": db.execute("SELECT COUNT(*) FROM peer_has").fetchone()[0]}

    # --- the command line -----------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TESTIMONY_") and k not in ("EDITOR", "VISUAL")}
        env.update(PYTHONPATH=str(REPO), TESTIMONY_HOME=str(self.home), TESTIMONY_KEYS=str(self.keys),
                   TESTIMONY_PASSPHRASE=TEST_PASSPHRASE)
        return env

    def run(self, *args: str, timeout: float = 60) -> "Result":
        """`python -m cli ARGS` as a real subprocess on this site."""
        p = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, env=self.env,
                           cwd=REPO, timeout=timeout)
        return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.exit_code, self.stdout, self.stderr = code, out, err

    def __repr__(self) -> str:
        return f"Result(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def assert_ok(r: Result) -> Result:
    assert r.exit_code == 0, r
    assert "Traceback" not in r.stdout + r.stderr and "Error" not in r.stderr, r
    return r


def assert_error(r: Result, *fragments: str) -> str:
    """Exit 1, one `Error: …` line (and at most a `Hint: …`), no traceback, no bug catch-all."""
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stdout + r.stderr, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and lines[0].startswith("Error: "), r
    assert len(lines) == 1 or lines[1].startswith("Hint: "), r
    assert "unexpected" not in lines[0], r
    for fragment in fragments:
        assert fragment in lines[0], (fragment, r)
    return lines[0]


class World:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.sites = {name: Site(self.root / name, name) for name in PINS}

    def __getitem__(self, name: str) -> Site:
        return self.sites[name]

    def build(self) -> "World":
        for site in self.sites.values():
            site.create()
        for name, pins in PINS.items():
            with self[name].open() as a:
                for other, role in pins:
                    a.add_peer(self[other].card_path, name=other, role=role,
                               fingerprint=self[other].fingerprint)
        return self

    def clone(self, dest: Path) -> "World":
        shutil.copytree(self.root, dest, symlinks=True)
        return World(dest)


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("world") / "w").build()


@pytest.fixture
def world(world_template: World, tmp_path: Path) -> World:
    """A private copy of the pinned world for one test."""
    return world_template.clone(tmp_path / "w")


# --- building bundles by hand ---------------------------------------------------------------

class CraftWriter(BundleWriter):
    """A BundleWriter that can also lie: raw plaintext bytes, FINAL wherever we say."""

    def raw(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > C.BUNDLE_MESSAGE_BYTES:
            self._push(bytes(self._buffer[:C.BUNDLE_MESSAGE_BYTES]), final=False)
            del self._buffer[:C.BUNDLE_MESSAGE_BYTES]

    def seal_message(self, *, final: bool) -> None:
        """Pad what is buffered to one whole message and seal it now, FINAL or not."""
        self._buffer += bytes(C.BUNDLE_MESSAGE_BYTES - len(self._buffer))
        self._push(bytes(self._buffer), final=final)
        self._buffer = bytearray()


def frame(frame_type: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return bytes([frame_type]) + len(body).to_bytes(4, "big") + body


def manifest_for(sender: Archive, *, recipients: list[str], objects: list[tuple[bytes, str, int]],
                 bundle_id: str | None = None, custody: list | None = None,
                 revocations: list | None = None, acks: list | None = None,
                 sender_card: IdentityCard | None = None, created: str = "2026-06-01T12:00:00Z") -> bytes:
    """A manifest as the sender would sign it; `custody` is a list of signed events, each
    sent with the inclusion proof the sender's real export would give it."""
    items, heads = [], []
    if custody:
        from archive.custodylog import OwnLog
        head = OwnLog(sender.index, sender.keys, sender.sealer, sender._now).head()
        items, heads = sender.sync._custody_with_proofs([_as_event(e) for e in custody], head)
    return encode_manifest(
        bundle_id=bundle_id or crypto.random_bytes(32).hex(), sender=sender_card or sender.keys.card,
        recipients=recipients, created=created, sequence={r: 1 for r in recipients}, objects=objects,
        acks=acks or [], custody=items, revocations=revocations or [], heads=heads)


def _as_event(event: dict):
    """A CustodyEvent for `event`, even a forged one (tests put forgeries in manifests)."""
    from archive.custody import CustodyEvent, check_event
    try:
        return check_event(event)
    except Exception:
        return CustodyEvent(event.get("event", "?"), event.get("envelope", "00" * 32), None,
                            "00" * 32, None, None, event.get("time", ""), event)


def signature_frame(seed: bytes, fingerprint: str, manifest: bytes) -> bytes:
    return frame(C.FRAME_SIGNATURE, bytes.fromhex(fingerprint),
                 crypto.sign(seed, purpose=C.BUNDLE, message=manifest))


def craft(box_keys: list[bytes], plaintext: bytes) -> bytes:
    """Seal `plaintext` as-is (no checks of its frames) as a bundle whose last message is FINAL."""
    out = io.BytesIO()
    w = CraftWriter(out, box_keys)
    w.raw(plaintext)
    w.seal_message(final=True)
    return out.getvalue()


def objects_of(a: Archive) -> list[tuple[bytes, str, int, bytes]]:
    """(id, kind, size, bytes) of every envelope and chunk, in store order."""
    return [(oid, kind, size, a.sync._read(oid)) for oid, kind, size in a.index.all_objects()
            if kind in ("envelope", "chunk")]


class MemFile:
    """A read-only file over a buffer that may end before the size the reader is told."""

    def __init__(self, data: bytes | bytearray | memoryview, end: int | None = None) -> None:
        self._view = memoryview(data)
        self._end = len(self._view) if end is None else end
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        stop = self._end if n < 0 else min(self._end, self._pos + n)
        data = bytes(self._view[self._pos:stop])
        self._pos += len(data)
        return data


@pytest.fixture(params=["thread", "processes"])
def import_workers(request, monkeypatch):
    """Run a test's imports on one thread and again in worker processes (which only
    large bundles use otherwise): both must give the same verdicts."""
    from archive import receiving
    monkeypatch.setattr(receiving, "PROCESS_THRESHOLD", 0 if request.param == "processes" else 10**9)
    started = []
    real_pool = receiving.WorkerPool
    monkeypatch.setattr(receiving, "WorkerPool", lambda *a, **k: started.append(1) or real_pool(*a, **k))
    yield request.param
    assert bool(started) == (request.param == "processes")
