"""A state machine over three pinned archives, checked against an in-memory model (issue 6).

Sites: field, courier and archive, each pinning the other two (built once per module in a
template folder, copied for every example: Argon2 and key generation are slow). Each
example starts with one small testimony per site.

Rules
    record      a small testimony (random title, body, tags, place; maybe attachments of
                random bytes, one in ten of two chunks) for a random subset of its peers
    add         one evidence file (random bytes from a small pool, so often bytes the site
                already holds: then a duplicate that stores nothing)
    export      a bundle from one site to another, default, --new-only or --all (often an
                answer to the last bundle imported, so that acks travel back)
    import      a bundle by its recipient; again (a no-op that says so and changes no table
                row and no pack byte); or by a site it is not addressed to (TrustError, and
                nothing changes)
    crash       close and reopen an archive; or cut a record, an add or an import short at a
                failpoint (mid-pack, pack written, pack renamed, before the commit, inside
                the transaction, after the commit), either in this process (an exception
                nobody catches, then the Archive is closed unfinished and reopened) or, at
                most once per example, in a real `python -m cli` process that SIGKILLs
                itself there

The model keeps, per site: the objects (envelopes and chunks) it must hold; the records
it can read (its own, and those addressed to it that reached it), so that the rest of
what it holds is relayed only; the custody events it must know of each envelope; what it
knows its peers hold (what they sent it, or acknowledged); the bundles it sent and got.
Import results (new, held, readable, relayed, acks, sequence gaps) and export sizes are
checked against it as they happen.

Invariants after every step, for each site the step touched (the others' folders did not
change): `list` is exactly the readable set, with the recorded kinds, titles, tags and
attachment counts; every record opens, with the recorded author, fields and attachments;
`verify` and `check --read-data` pass; the stored objects are exactly the model's; the
envelopes kept only to relay are exactly the held-but-unreadable ones; each envelope's
custody events are exactly the model's; and the custody chain of every record that gained
an event (every record, after a crash) checks: signatures, log inclusion of the site's own
events, `recorded` by its author first. A crash leaves an operation done or not done,
never half done: after reopening, the site holds the whole new record (or the whole
import), or nothing of it, and a finished command's result is always there.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from archive import constants as C
from archive.api import Archive
from archive.composing import compose_fields
from archive.errors import TrustError, UsageError

from ..conftest import TEST_PASSPHRASE
from ..sync.conftest import REPO, Site, World

SITES = ("field", "courier", "archive")
ROLES = {"field": "field", "courier": "courier", "archive": "archivist"}
MODES = ("unacked", "new-only", "all")
SETTINGS = settings(max_examples=16, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

Event = tuple[str, str, "str | None", "str | None"]   # (event, actor site, peer site, bundle id)


class Trio(World):
    """Three sites that all pin each other."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.sites = {name: Site(self.root / name, name) for name in SITES}

    def build(self) -> "Trio":
        for site in self.sites.values():
            site.create()
        for name in SITES:
            with self[name].open() as a:
                for other in SITES:
                    if other != name:
                        a.add_peer(self[other].card_path, name=other, role=ROLES[other],
                                   fingerprint=self[other].fingerprint)
        return self

    def clone(self, dest: Path) -> "Trio":
        shutil.copytree(self.root, dest, symlinks=True)
        return Trio(dest)


# --- the model -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rec:
    record_id: str
    author: str
    readers: frozenset[str]
    kind: str
    fields: dict
    attachments: tuple[tuple[str, int, str], ...]     # sorted (name, size, sha256)
    envelope: bytes
    objects: frozenset[bytes]                          # envelope and chunks


@dataclass
class Sent:
    bundle_id: str
    path: Path
    sender: str
    recipient: str
    sequence: int
    objects: frozenset[bytes]
    envelopes: frozenset[bytes]
    acks: frozenset[str]
    custody: dict[bytes, frozenset[Event]]          # what it carries, by envelope


@dataclass
class SiteModel:
    held: set[bytes] = field(default_factory=set)
    readable: set[str] = field(default_factory=set)
    events: dict[bytes, set[Event]] = field(default_factory=dict)
    peer_has: dict[str, set[bytes]] = field(default_factory=lambda: {s: set() for s in SITES})
    sent: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SITES})
    acked: set[str] = field(default_factory=set)
    received: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SITES})


# --- crashing ------------------------------------------------------------------------------

# (module, class, method, before/after the call): where a crash may strike.
FAILPOINTS = [
    ("archive.store", "PackWriter", "add", "after"),          # mid-pack
    ("archive.store", "PackWriter", "close", "before"),       # pack written, not renamed
    ("archive.store", "PackWriter", "close", "after"),        # pack renamed, rows not committed
    ("archive.index", "Index", "commit_pack", "before"),
    ("archive.index", "Index", "insert_custody", "after"),    # inside a transaction
    ("archive.index", "Index", "record_received", "after"),   # inside the import's transaction
    ("archive.store", "Store", "end_staged", "before"),       # import committed, journal left
]
WRITE_FAILPOINTS = FAILPOINTS[:5]   # those a record or an add passes

CHILD = r"""
import importlib, os, signal, sys
module, owner, method, when, nth, argv = *sys.argv[1:5], int(sys.argv[5]), sys.argv[6:]
cls = getattr(importlib.import_module(module), owner)
real, calls = getattr(cls, method), [0]

def failpoint(*args, **kwargs):
    if when == "before":
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    result = real(*args, **kwargs)
    if when == "after":
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    return result

setattr(cls, method, failpoint)
sys.argv = ["testimony", *argv]
from cli.main import main
main()
"""


class SimulatedCrash(BaseException):
    """Raised at a failpoint in this process; nothing in the product catches it."""


@contextmanager
def failpoint_in_process(point: tuple[str, str, str, str], nth: int):
    import importlib
    module, owner, method, when = point
    cls = getattr(importlib.import_module(module), owner)
    real, calls = cls.__dict__[method], [0]

    def wrapper(*args, **kwargs):
        if when == "before":
            calls[0] += 1
            if calls[0] == nth:
                raise SimulatedCrash(f"{owner}.{method} #{nth}")
        result = real(*args, **kwargs)
        if when == "after":
            calls[0] += 1
            if calls[0] == nth:
                raise SimulatedCrash(f"{owner}.{method} #{nth}")
        return result

    setattr(cls, method, wrapper)
    try:
        yield
    finally:
        setattr(cls, method, real)


# --- strategies ------------------------------------------------------------------------------

SIZES = [0, 1, 37, 37, 4096, 4096, 70_000, 70_000, 300_000, C.CHUNK_SIZE + 5]   # one in ten: two chunks
NAMES = ["letter.pdf", "фото двери.jpg", "scan 1.png", "notes.txt", "video.mp4"]
contents = st.tuples(st.sampled_from(SIZES), st.integers(min_value=0, max_value=5))   # few seeds: repeats
titles = st.text(max_size=16)
bodies = st.text(max_size=80)
tag_lists = st.lists(st.sampled_from(["hospital", "police", "almaty", "тег", "naïve"]), unique=True,
                     max_size=2).map(sorted)
locations = st.sampled_from([None, "Almaty", "Алматы, район"])
# Whom a record is also for, among the author's two peers (uniform, not "mostly nobody").
peer_sets = st.sampled_from([(0, 1), (0,), (1,), ()])
attachment_lists = st.lists(st.tuples(st.sampled_from(NAMES), contents), max_size=2)
cli_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=16).filter(str.strip)
cli_bodies = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=60)


def content_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def site_sets_excluding(site: str, which: tuple[int, ...]) -> list[str]:
    others = [s for s in SITES if s != site]
    return [others[i] for i in which]


class ArchiveMachine(RuleBasedStateMachine):
    template: Trio | None = None
    workdir: Path | None = None
    counter = 0
    steps: Counter = Counter()      # rule → times run, over the whole test (for its summary line)

    def __init__(self) -> None:
        super().__init__()
        ArchiveMachine.counter += 1
        self.root = self.workdir / f"example-{ArchiveMachine.counter:03d}"
        self.world = self.template.clone(self.root / "w")
        (self.root / "bundles").mkdir()
        (self.root / "inputs").mkdir()
        self.fingerprints = {self.world[s].fingerprint: s for s in SITES}
        self.sites = {s: SiteModel() for s in SITES}
        self.records: dict[str, Rec] = {}
        self.by_envelope: dict[bytes, Rec] = {}
        self.sent: dict[str, Sent] = {}
        self.files = 0
        self.killed = 0
        self.last_import: tuple[str, str] | None = None    # (importer, sender)
        self.open: dict[str, Archive] = {s: self._open(s) for s in SITES}
        self.dirty = set(SITES)     # sites a step may have changed: the invariants look at those
        # Per site, the records whose custody chain a step may have changed (each `custody`
        # call checks every log head the site holds, so all of them after every step would
        # make the test quadratic): new events, and every record after a crash.
        self.chains: dict[str, set[str]] = {s: set() for s in SITES}

    def teardown(self) -> None:
        for a in self.open.values():
            a.close()

    # --- helpers ---------------------------------------------------------------------------
    def _open(self, site: str) -> Archive:
        s = self.world[site]
        a = Archive(s.home, s.keys)
        try:
            a.unlock(TEST_PASSPHRASE)
        except BaseException:
            a.close()
            raise
        return a

    def _reopen(self, site: str) -> None:
        self.dirty.add(site)
        self.open[site].close()
        self.open[site] = self._open(site)

    def _input(self, name: str, data: bytes) -> Path:
        self.files += 1
        folder = self.root / "inputs" / str(self.files)
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        return path

    def _attachments(self, attach) -> tuple[list[Path], list[tuple[str, int, str]]]:
        """The drawn attachments written as input files: their paths, and what the model
        expects of each (name, size, SHA-256)."""
        paths, attachments = [], []
        for name, (size, seed) in attach:
            data = content_bytes(size, seed)
            paths.append(self._input(name, data))
            attachments.append((name, size, hashlib.sha256(data).hexdigest()))
        return paths, attachments

    def _site_of(self, fingerprint: str | None) -> str | None:
        return None if fingerprint is None else self.fingerprints[fingerprint]

    def _dedup(self, site: str) -> set[str]:
        """SHA-256 of every attachment the site can read: `add` calls those duplicates."""
        return {sha for rid in self.sites[site].readable for _, _, sha in self.records[rid].attachments}

    def _learn_record(self, site: str, record_id: str, *, kind: str, fields: dict,
                      attachments: list[tuple[str, int, str]], readers: set[str]) -> None:
        """A record `site` just wrote: its objects, as its own archive stores them."""
        a = self.open[site]
        self.dirty.add(site)
        envelope = a.index.record(record_id).envelope_id
        opened = a._open(record_id)
        chunks = {bytes.fromhex(r["id"]) for refs in opened.chunks.values() for r in refs}
        rec = Rec(record_id, site, frozenset(readers | {site}), kind, fields,
                  tuple(sorted(attachments)), envelope, frozenset(chunks | {envelope}))
        assert record_id not in self.records
        self.records[record_id] = self.by_envelope[envelope] = rec
        m = self.sites[site]
        m.held |= rec.objects
        m.readable.add(record_id)
        self.chains[site].add(record_id)
        m.events[envelope] = {("recorded", site, None, None)}

    def _new_own_records(self, site: str) -> set[str]:
        return {r.record_id for r in self.open[site].list_records()} - self.sites[site].readable

    def _expect_written_or_not(self, site: str, *, kind: str, fields: dict,
                               attachments: list[tuple[str, int, str]], readers: set[str],
                               finished: bool) -> None:
        """After a crash: the record is wholly there (then the model learns it) or absent."""
        new = self._new_own_records(site)
        assert len(new) <= 1, new
        if finished:
            assert len(new) == 1, "the command finished but its record is missing"
        self.steps[f"  crashed write: {'finished' if finished else 'whole' if new else 'absent'}"] += 1
        if new:
            [record_id] = new
            note(f"{site}: the crashed write survived as {record_id[:12]}")
            self._learn_record(site, record_id, kind=kind, fields=fields, attachments=attachments,
                               readers=readers)

    def _apply_import(self, site: str, sent: Sent) -> None:
        self.dirty.add(site)
        self.last_import = (site, sent.sender)
        m = self.sites[site]
        m.held |= sent.objects
        for envelope in sent.envelopes:
            rec = self.by_envelope[envelope]
            if site in rec.readers:
                m.readable.add(rec.record_id)
                self.chains[site].add(rec.record_id)
            m.events.setdefault(envelope, set()).update(
                sent.custody[envelope] | {("imported", site, sent.sender, sent.bundle_id)})
        m.peer_has[sent.sender] |= sent.objects
        for ack in sent.acks:
            if ack in m.sent[sent.sender] and ack not in m.acked:
                m.acked.add(ack)
                m.peer_has[sent.sender] |= self.sent[ack].objects
        m.received[sent.sender].append(sent.bundle_id)

    # --- rules -----------------------------------------------------------------------------
    @initialize(readers=st.tuples(peer_sets, peer_sets, peer_sets))
    def one_testimony_each(self, readers):
        """Something to carry from the first step on."""
        for site, to in zip(SITES, readers):
            to = site_sets_excluding(site, to)
            fields = {"title": f"First from {site}", "body": "Seen from the window.\n"}
            record_id = self.open[site].record(fields=fields, to=to)
            self._learn_record(site, record_id, kind="testimony", fields=fields, attachments=[],
                               readers=set(to))

    @rule(site=st.sampled_from(SITES), title=titles, body=bodies, tags=tag_lists, location=locations,
          attach=attachment_lists, to=peer_sets)
    def record(self, site, title, body, tags, location, attach, to):
        self.steps["record"] += 1
        to = site_sets_excluding(site, to)
        paths, attachments = self._attachments(attach)
        given = {"title": title, "body": body, "tags": tags, "location": location}
        fields = {k: v for k, v in given.items() if v not in (None, "", [])}
        a = self.open[site]
        if not fields.get("title") and not fields.get("body") and not paths:
            before = self.world[site].state()
            with pytest.raises(UsageError, match="empty"):
                a.record(fields=given, attachments=paths, to=to)
            assert self.world[site].state() == before
            return
        record_id = a.record(fields=given, attachments=paths, to=to)
        self._learn_record(site, record_id, kind="testimony", fields=fields, attachments=attachments,
                           readers=set(to))

    @rule(site=st.sampled_from(SITES), name=st.sampled_from(NAMES), content=contents, tags=tag_lists,
          to=peer_sets)
    def add(self, site, name, content, tags, to):
        self.steps["add"] += 1
        to = site_sets_excluding(site, to)
        data = content_bytes(*content)
        sha = hashlib.sha256(data).hexdigest()
        duplicate = sha in self._dedup(site)
        summary = self.open[site].add([self._input(name, data)], tags=tags, to=to)
        assert (summary.new, summary.duplicates) == ((0, 1) if duplicate else (1, 0))
        if duplicate:
            return
        [(_, record_id)] = summary.new_records
        fields = {"title": name, **({"tags": tags} if tags else {})}
        self._learn_record(site, record_id, kind="evidence", fields=fields,
                           attachments=[(name, len(data), sha)], readers=set(to))

    @rule(sender=st.sampled_from(SITES), recipient=st.sampled_from(SITES),
          mode=st.sampled_from(MODES), reply=st.booleans())
    def export(self, sender, recipient, mode, reply):
        """`reply`: answer the last bundle imported anywhere (so acks travel back)."""
        self.steps["export"] += 1
        if reply and self.last_import is not None:
            sender, recipient = self.last_import
        if sender == recipient:
            recipient = SITES[(SITES.index(sender) + 1) % len(SITES)]
        m = self.sites[sender]
        self.dirty.add(sender)
        if mode == "all":
            objects = set(m.held)
        else:
            skip = set(m.peer_has[recipient])
            if mode == "new-only":
                skip |= {o for b in m.sent[recipient] for o in self.sent[b].objects}
            objects = m.held - skip
        acks = frozenset(m.received[recipient])
        a = self.open[sender]
        before = {r[0] for r in a.index.db.execute("SELECT bundle FROM sent")}
        path = self.root / "bundles" / f"{len(self.sent) + 1:03d}-{sender}-to-{recipient}-{mode}.tmy"
        result = a.export_bundle([recipient], path, mode=mode)
        [bundle_id] = {r[0] for r in a.index.db.execute("SELECT bundle FROM sent")} - before
        assert [p for p, _, _ in result.files] == [path]
        assert (result.objects, result.acks) == (len(objects), len(acks))
        envelopes = frozenset(o for o in objects if o in self.by_envelope)
        for envelope in envelopes:
            m.events[envelope].add(("exported", sender, recipient, bundle_id))
            self.chains[sender].add(self.by_envelope[envelope].record_id)
        m.sent[recipient].append(bundle_id)
        self.sent[bundle_id] = Sent(bundle_id, path, sender, recipient, len(m.sent[recipient]),
                                    frozenset(objects), envelopes, acks,
                                    {e: frozenset(m.events[e]) for e in envelopes})
        note(f"{bundle_id[:8]}: {sender} -> {recipient} ({mode}), {len(objects)} objects, "
             f"{len(envelopes)} envelopes, {len(acks)} acks")

    def _pick_bundle(self, data, *, fresh: bool) -> str:
        """A bundle its recipient has not imported yet (if `fresh` and there is one), or any."""
        # In export order: bundle ids are random, and the draw must not depend on them.
        pending = [b for b, x in self.sent.items() if b not in self.sites[x.recipient].received[x.sender]]
        return data.draw(st.sampled_from(pending if fresh and pending else list(self.sent)), label="bundle")

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), who=st.sampled_from(["recipient"] * 4 + ["again", "other", "sender"]))
    def import_bundle(self, data, who):
        self.steps["import_bundle"] += 1
        bundle_id = self._pick_bundle(data, fresh=who == "recipient")
        sent = self.sent[bundle_id]
        if who in ("recipient", "again"):
            site = sent.recipient
        elif who == "sender":
            site = sent.sender
        else:
            site = next(s for s in SITES if s not in (sent.sender, sent.recipient))
        a, m = self.open[site], self.sites[site]
        if site != sent.recipient:
            before = self.world[site].state()
            with pytest.raises(TrustError):
                a.import_bundle(sent.path)
            assert self.world[site].state() == before
            self.steps["  import refused: not addressed to it"] += 1
            return
        if bundle_id in m.received[sent.sender]:
            before = self.world[site].state()
            again = a.import_bundle(sent.path)
            assert again.already_imported and again.bundle_id == bundle_id
            assert (again.new_objects, again.new_records, again.held_objects) == (0, 0, 0)
            assert self.world[site].state() == before
            self.steps["  import again: a no-op"] += 1
            return
        new = sent.objects - m.held
        new_envelopes = [self.by_envelope[e] for e in sent.envelopes if e in new]
        acks = sum(1 for b in sent.acks if b in m.sent[sent.sender] and b not in m.acked)
        result = a.import_bundle(sent.path)
        assert not result.already_imported and result.bundle_id == bundle_id
        assert result.new_objects == len(new)
        assert result.held_objects == len(sent.objects) - len(new)
        assert result.new_records == sum(1 for r in new_envelopes if site in r.readers)
        assert result.relay_only == sum(1 for r in new_envelopes if site not in r.readers)
        assert (result.acks, result.refused_revoked, result.revocations) == (acks, 0, 0)
        self._apply_import(site, sent)
        self.steps["  imported: records now readable"] += result.new_records
        self.steps["  imported: envelopes kept to relay"] += result.relay_only
        self.steps["  imported: acks"] += result.acks
        sequences = {self.sent[b].sequence for b in m.received[sent.sender]}
        assert result.gaps == [n for n in range(1, max(sequences) + 1) if n not in sequences]

    # --- crashes ---------------------------------------------------------------------------
    def _run_crashing(self, site: str, point, nth: int, argv: list[str]) -> bool:
        """`testimony ARGV` in a real process that SIGKILLs itself at the failpoint;
        True if it finished instead."""
        self.open[site].close()
        try:
            p = subprocess.run([sys.executable, "-c", CHILD, *point, str(nth), *argv],
                               env=self.world[site].env, cwd=REPO, capture_output=True, timeout=120)
        finally:
            self.open[site] = self._open(site)
            self.dirty.add(site)
            self.chains[site] |= self.sites[site].readable
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        assert p.returncode in (0, -signal.SIGKILL), (p.returncode, out, err)
        assert "Traceback" not in err, err
        note(f"{site}: {' '.join(argv[:2])} {'finished' if p.returncode == 0 else 'killed'} "
             f"at {point[1]}.{point[2]} #{nth}")
        return p.returncode == 0

    def _crash_here(self, site: str, point, nth: int, operation) -> bool:
        """Run `operation` with a failpoint raising in this process; then close the Archive
        without letting it finish anything more, and open it again. True if it finished."""
        try:
            with failpoint_in_process(point, nth):
                operation(self.open[site])
            finished = True
        except SimulatedCrash:
            finished = False
        note(f"{site}: in-process {'finished' if finished else 'crashed'} at {point[1]}.{point[2]} #{nth}")
        self._reopen(site)
        self.chains[site] |= self.sites[site].readable
        return finished

    @rule(data=st.data(), operation=st.sampled_from(["reopen", "record", "add", "import", "import"]),
          nth=st.sampled_from([1, 1, 1, 2, 3]), real_process=st.sampled_from([False, False, False, True]))
    def crash(self, data, operation, nth, real_process):
        """Close and reopen an archive, or crash it in the middle of a record, an add or an
        import and then reopen it. One rule, so that crashes are a fifth of the steps, not
        half; a quarter of the crashes, at most one per example, in a real process that
        kills itself (each costs a Python start and a real Argon2id: about a second)."""
        real_process = real_process and not self.killed
        self.killed += real_process
        if operation == "import" and not self.sent:
            operation = "record"
        if operation == "reopen":
            self.steps["reopen"] += 1
            return self._reopen(data.draw(st.sampled_from(SITES), label="site"))
        point = data.draw(st.sampled_from(FAILPOINTS if operation == "import" else WRITE_FAILPOINTS),
                          label="failpoint")
        self.steps[f"crash {operation} ({'killed process' if real_process else 'in process'})"] += 1
        if operation == "import":
            return self._crash_import(self._pick_bundle(data, fresh=True), point, nth, real_process)
        site = data.draw(st.sampled_from(SITES), label="site")
        tags = data.draw(tag_lists, label="tags")
        to = data.draw(peer_sets, label="to")
        if operation == "record":
            return self._crash_record(site, point, nth, real_process, data.draw(cli_words, label="title"),
                                      data.draw(cli_bodies, label="body"), tags,
                                      data.draw(attachment_lists, label="attach"), to)
        return self._crash_add(site, point, nth, real_process, data.draw(st.sampled_from(NAMES), label="name"),
                               data.draw(contents, label="content"), tags, to)

    def _crash_record(self, site, point, nth, real_process, title, body, tags, attach, to):
        to = site_sets_excluding(site, to)
        paths, attachments = self._attachments(attach)
        # What `record` makes of these options and text (the header block, if any).
        try:
            fields = compose_fields(text=body, title=title, tags=tags, witness=None, consent=None,
                                    location=None, language=None)
        except UsageError:
            assume(False)   # a text whose header contradicts the options: test_record's business
        text = self._input("statement.txt", body.encode("utf-8"))
        if real_process:
            argv = ["record", "--title", title, "--text-file", str(text)]
            argv += [x for p in paths for x in ("--attach", str(p))]
            argv += [x for t in tags for x in ("--tag", t)] + [x for p in to for x in ("--to", p)]
            finished = self._run_crashing(site, point, nth, argv)
        else:
            finished = self._crash_here(site, point, nth, lambda a: a.record(
                fields=fields, attachments=paths, to=to))
        self._expect_written_or_not(site, kind="testimony", fields=fields, attachments=attachments,
                                    readers=set(to), finished=finished)

    def _crash_add(self, site, point, nth, real_process, name, content, tags, to):
        to = site_sets_excluding(site, to)
        data = content_bytes(*content)
        sha = hashlib.sha256(data).hexdigest()
        duplicate = sha in self._dedup(site)
        path = self._input(name, data)
        if real_process:
            argv = ["add", str(path)] + [x for t in tags for x in ("--tag", t)]
            argv += [x for p in to for x in ("--to", p)]
            finished = self._run_crashing(site, point, nth, argv)
        else:
            finished = self._crash_here(site, point, nth, lambda a: a.add([path], tags=tags, to=to))
        if duplicate:
            assert self._new_own_records(site) == set()
            return
        self._expect_written_or_not(site, kind="evidence",
                                    fields={"title": name, **({"tags": tags} if tags else {})},
                                    attachments=[(name, len(data), sha)], readers=set(to),
                                    finished=finished)

    def _crash_import(self, bundle_id, point, nth, real_process):
        sent = self.sent[bundle_id]
        site, m = sent.recipient, self.sites[sent.recipient]
        was_imported = bundle_id in m.received[sent.sender]
        if real_process:
            finished = self._run_crashing(site, point, nth, ["bundle", "import", str(sent.path)])
        else:
            finished = self._crash_here(site, point, nth, lambda a: a.import_bundle(sent.path))
        imported = self.open[site].index.was_received(bundle_id)
        if finished or was_imported:
            assert imported
        if not was_imported:
            self.steps[f"  crashed import: {'finished' if finished else 'whole' if imported else 'absent'}"] += 1
        if imported and not was_imported:
            note(f"{site}: the crashed import of {bundle_id[:8]} survived whole")
            self._apply_import(site, sent)
        # Not imported: nothing of it may be left; the invariants check exactly that.

    # --- invariants ------------------------------------------------------------------------
    @invariant()
    def every_archive_matches_the_model(self):
        # Only the sites the step touched: the others' folders and Archive objects are as
        # they were when last checked (a refused or repeated import is checked to change
        # nothing by comparing the whole index and every pack before and after).
        for site in sorted(self.dirty):
            self._check_site(site)
        self.dirty.clear()

    def _check_site(self, site: str) -> None:
        a, m = self.open[site], self.sites[site]
        listed = a.list_records()
        assert {r.record_id for r in listed} == m.readable, site
        for summary in listed:
            rec = self.records[summary.record_id]
            assert (summary.kind, summary.title, summary.tags, summary.attachments) == (
                rec.kind, rec.fields.get("title", ""), rec.fields.get("tags", []), len(rec.attachments))
            assert summary.author_fingerprint == self.world[rec.author].fingerprint
            view = a.show(summary.record_id)
            assert view.fields == rec.fields
            assert sorted((x["name"], x["size"], x["sha256"]) for x in view.attachments) == list(rec.attachments)
            assert view.statement["kind"] == rec.kind
        held = {oid for oid, kind, _ in a.index.all_objects() if kind in ("envelope", "chunk")}
        assert held == m.held, site
        relayed = {r[0] for r in a.index.db.execute("SELECT envelope FROM unreadable")}
        assert relayed == {e for e in m.held if e in self.by_envelope
                           and self.by_envelope[e].record_id not in m.readable}, site
        report = a.verify()
        assert report.ok and len(report.records) == len(m.readable), [
            (r.record_id[:12], r.problems) for r in report.failed]
        check = a.check(read_data=True)
        assert check.ok, check.problems
        total = a.index.db.execute("SELECT COUNT(*) FROM custody").fetchone()[0]
        assert total == sum(len(v) for v in m.events.values()), site
        for envelope, expected in m.events.items():
            events = a.sync.events_for([envelope])
            got = {(e.event, self._site_of(e.actor), self._site_of(e.peer), e.bundle) for e in events}
            assert got == expected, (site, envelope.hex()[:12])
        for record_id in sorted(self.chains[site] & m.readable):
            chain = a.custody(record_id)
            rec = self.records[record_id]
            first = chain.steps[0]
            assert (first.event.event, self._site_of(first.event.actor)) == ("recorded", rec.author)
            assert {(s.event.event, self._site_of(s.event.actor), self._site_of(s.event.peer),
                     s.event.bundle) for s in chain.steps} == m.events[rec.envelope]
            own = self.world[site].fingerprint
            assert all(s.proven for s in chain.steps if s.event.actor == own), record_id[:12]
        self.chains[site].clear()


@pytest.fixture(scope="module")
def trio(tmp_path_factory) -> Trio:
    return Trio(tmp_path_factory.mktemp("trio") / "t").build()


def test_archives_follow_the_model(trio, tmp_path, monkeypatch):
    # In-process unlocks (every reopen) derive each site's key once; subprocesses derive for real.
    import archive.crypto
    from ..cli.helpers import unsafe_memoized_argon2id
    monkeypatch.setattr(archive.crypto, "argon2id", unsafe_memoized_argon2id(archive.crypto.argon2id))
    ArchiveMachine.template, ArchiveMachine.workdir, ArchiveMachine.counter = trio, tmp_path, 0
    ArchiveMachine.steps = Counter()
    started = time.perf_counter()
    try:
        run_state_machine_as_test(ArchiveMachine, settings=SETTINGS)
    finally:
        ArchiveMachine.template = ArchiveMachine.workdir = None
    steps = ArchiveMachine.steps
    rules = {k: n for k, n in sorted(steps.items()) if not k.startswith(" ")}
    outcomes = {k.strip(): n for k, n in sorted(steps.items()) if k.startswith(" ")}
    print(f"\nstate machine: {ArchiveMachine.counter} examples, {sum(rules.values())} steps in "
          f"{time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {n}" for k, n in rules.items()))
    print("outcomes: " + ", ".join(f"{k} {n}" for k, n in outcomes.items()))
