"""Disclosure packages: what a court keeps, checkable without our software's word.

A package is a folder:

    statement.json        the signed statement, canonical bytes exactly as signed
    statement.json.sig    the same statement's OpenSSH signature (SSHSIG, namespace testimony)
    allowed_signers       the author's key for `ssh-keygen -Y verify`
    author.pub            the author's identity card
    disclosure.json       record id, testimony signature, the revealed fields with their salts
    custody.json          signed custody events with RFC 9162 inclusion proofs and tree heads
    files/…               the revealed attachments, as plain files
    SHA256SUMS            `sha256sum -c` over every other file
    VERIFY.txt            how to check all of it, in plain words

Selective disclosure: the statement commits to each field and attachment by a salted
digest, so revealing one means giving its salt and value; the others stay hidden and the
signature still holds. A witness whose consent is `internal` is never revealed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import constants as C
from . import crypto, sshsig
from .custody import check_event
from .custodylog import check_head, check_inclusion
from .encoding import canonical, from_hex, parse_canonical, parse_time
from .errors import ArchiveError, FormatError, UsageError
from .fsutil import fsync_dir, safe_file_name
from .keys import IdentityCard, parse_card
from .records import OpenedRecord, check_disclosure, committed_digests, check_statement, record_id, verify_statement

STATEMENT = "statement.json"
SSH_SIGNATURE = "statement.json.sig"
ALLOWED_SIGNERS = "allowed_signers"
AUTHOR_CARD = "author.pub"
DISCLOSURE = "disclosure.json"
CUSTODY = "custody.json"
SUMS = "SHA256SUMS"
README = "VERIFY.txt"
FILES = "files"
SSH_PRINCIPAL = "author"
DEFAULT_REVEAL = ("title", "body", "attachments")


# --- choosing what to reveal -------------------------------------------------------------------

def choose(opened: OpenedRecord, reveal: list[str]) -> list[tuple[str, str, Any]]:
    """The disclosures to reveal: field names, `attachments`, or `attachment:NAME`."""
    wanted = list(reveal) or list(DEFAULT_REVEAL)
    chosen: list[tuple[str, str, Any]] = []
    for item in wanted:
        if item == "attachments":
            matches = [d for d in opened.disclosures if d[1] == C.ATTACHMENT_FIELD]
            if not matches and reveal:
                raise UsageError("this record has no attachments")
        elif item.startswith("attachment:"):
            name = item.split(":", 1)[1]
            matches = [d for d in opened.disclosures if d[1] == C.ATTACHMENT_FIELD and d[2]["name"] == name]
            if not matches:
                raise UsageError(f"this record has no attachment named {name!r}")
        elif item in C.FIELD_NAMES:
            matches = [d for d in opened.disclosures if d[1] == item]
            if not matches:
                if reveal:
                    raise UsageError(f"this record has no {item}")
                continue
            if item == "witness" and matches[0][2]["consent"] == "internal":
                raise UsageError("the witness consented to internal use only; their pseudonym "
                                 "cannot be disclosed", hint="disclose without --reveal witness")
        else:
            raise UsageError(f"cannot reveal {item!r}: choose from {', '.join(C.FIELD_NAMES)}, "
                             "attachments, or attachment:NAME")
        chosen += [d for d in matches if d not in chosen]
    return chosen


# --- writing a package ---------------------------------------------------------------------------

def package_file_name(name: str, taken: set[str]) -> str:
    """files/NAME, safe inside the folder, unique within the package."""
    base = safe_file_name(name)  # the same sanitiser as `extract`
    candidate, n = base, 1
    while candidate in taken:
        stem, dot, ext = base.rpartition(".")
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{base} ({n})"
        n += 1
    taken.add(candidate)
    return f"{FILES}/{candidate}"


def verify_text(record: str, author: IdentityCard) -> str:
    return f"""How to check this disclosure package
=====================================

Record {record}
Signed by key {author.short_fingerprint} (the card in author.pub names "{author.name}";
the name is the key holder's own claim, the key is what the signature proves).

1. The files are the ones that were packaged (standard tools only):

       sha256sum -c SHA256SUMS

   Every line must say OK. Any file added, removed or changed shows up here.

2. The author's signature on the statement (OpenSSH only, version 8.1 or later):

       ssh-keygen -Y verify -f allowed_signers -I {SSH_PRINCIPAL} -n testimony \\
           -s statement.json.sig < statement.json

   It must print: Good "testimony" signature for {SSH_PRINCIPAL}. Check that the key in
   allowed_signers is the author's, by comparing the fingerprint above with one obtained
   from the author in person (`testimony identity show` on their machine).

3. Everything at once, including what standard tools cannot do — that each revealed
   field matches what the statement commits to, and that every custody event is signed
   and included in its actor's tamper-evident log:

       testimony verify-disclosure .

What the files are
------------------
statement.json      what the author signed: salted digests of every field and file, so
                    anything not revealed here stays hidden and the signature still holds
statement.json.sig  the author's signature in OpenSSH format
allowed_signers     the author's public key, for ssh-keygen
author.pub          the author's identity card
disclosure.json     the revealed fields with their salts, and the record's own signature
custody.json        who recorded, exported, imported and disclosed this record, when,
                    each event signed and proven to be in its actor's log (RFC 9162)
files/              the revealed attachments; their SHA-256 are in disclosure.json and
                    were signed by the author
"""


def check_out(out: Path) -> None:
    """Refuse a package folder that exists and is not empty (before anything is signed)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder; nothing was written")


def write_package(out: Path, *, opened: OpenedRecord, author: IdentityCard,
                  revealed: list[tuple[str, str, Any]], custody: dict[str, Any], created: str,
                  read_file: Callable[[dict[str, Any]], Iterator[bytes]]) -> list[str]:
    """Write the folder (which must not exist or be empty); return the files written."""
    out = Path(out)
    check_out(out)
    taken: set[str] = set()
    files = []
    for _, name, value in revealed:
        if name == C.ATTACHMENT_FIELD:
            files.append({"path": package_file_name(value["name"], taken), "sha256": value["sha256"],
                          "size": value["size"]})
    disclosure = {"type": C.DISCLOSURE_TYPE, "version": C.FORMAT_VERSION, "record": opened.record_id,
                  "signature": opened.signature.hex(), "revealed": [list(d) for d in revealed],
                  "files": files, "created": created}
    final, out = out, out.parent / f".{out.name}.partial-{crypto.random_bytes(4).hex()}"
    documents = {
        STATEMENT: opened.statement_bytes,
        SSH_SIGNATURE: sshsig.armor(author.sign_key, opened.ssh_signature).encode(),
        ALLOWED_SIGNERS: sshsig.allowed_signers_line(SSH_PRINCIPAL, author.sign_key).encode(),
        AUTHOR_CARD: author.to_bytes() + b"\n",
        DISCLOSURE: canonical(disclosure),
        CUSTODY: canonical(custody),
        README: verify_text(opened.record_id, author).encode(),
    }
    try:
        (out / FILES).mkdir(parents=True)
        sums: dict[str, str] = {}
        for name, data in documents.items():
            _write_new(out / name, [data])
            sums[name] = hashlib.sha256(data).hexdigest()
        for entry, (_, _, value) in zip(files, [d for d in revealed if d[1] == C.ATTACHMENT_FIELD]):
            _write_new(out / entry["path"], read_file(value))  # its SHA-256 is checked as it streams
            sums[entry["path"]] = entry["sha256"]
        lines = "".join(f"{sums[p]}  {p}\n" for p in sorted(sums))
        _write_new(out / SUMS, [lines.encode()])
        # Built aside and renamed whole: a package is never found half-written.
        if final.exists():
            final.rmdir()
        os.rename(out, final)
        fsync_dir(final.parent)
    except OSError as e:
        raise UsageError(f"cannot write {final}: {e.strerror}") from e
    finally:
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
    return sorted([*sums, SUMS])


def _write_new(path: Path, pieces) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        for piece in pieces:
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())


# --- verifying a package -------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DisclosureReport:
    checks: list[Check] = field(default_factory=list)
    record: str = ""
    author: IdentityCard | None = None
    signer: str = ""                 # how the verifier's archive knows the key, if one was given
    revealed: list[str] = field(default_factory=list)
    hidden_fields: int = 0
    hidden_attachments: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    custody: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def verdict(self) -> str:
        if not self.ok:
            failed = [c for c in self.checks if not c.ok]
            return f"NOT VERIFIED: {failed[0].name} failed: {failed[0].detail}"
        a = self.author
        return (f"VERIFIED: record {self.record[:16]} was signed by key {a.short_fingerprint}"
                + (f" ({self.signer})" if self.signer else "")
                + f"; revealed: {', '.join(self.revealed) or 'nothing'}; hidden: "
                  f"{self.hidden_fields} field(s) and {self.hidden_attachments} attachment(s); "
                  f"{len(self.custody)} custody events checked")

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "verdict": self.verdict(), "record": self.record,
                "author_fingerprint": self.author.fingerprint if self.author else None,
                "author_name": self.author.name if self.author else None, "signer": self.signer,
                "revealed": self.revealed, "hidden": {"fields": self.hidden_fields,
                                                      "attachments": self.hidden_attachments},
                "files": self.files, "custody": self.custody,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def _read(folder: Path, name: str, limit: int = 64 * 1024 * 1024) -> bytes:
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise FormatError(f"{name} is missing")
    if path.stat().st_size > limit:
        raise FormatError(f"{name} is larger than a disclosure file can be")
    return path.read_bytes()


def verify_package(folder: Path, *, describe: Callable[[str], str] | None = None) -> DisclosureReport:
    """Run every check; a report naming each one, never an exception for bad packages."""
    folder = Path(folder)
    report = DisclosureReport()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    steps = ((_check_sums, ("files",)), (_check_author, ("author card",)),
             (_check_statement, ("signature", "ssh signature", "record id")),
             (_check_revealed, ("revealed fields", "attachments")), (_check_custody, ("custody",)))
    state: dict[str, Any] = {}
    for step, names in steps:
        done = len(report.checks)
        try:
            if not step(folder, report, state):
                break
        except ArchiveError as e:
            # Named after the check under way, as when it fails without raising.
            report.add(names[min(len(report.checks) - done, len(names) - 1)], False, str(e))
            break
    if report.ok and describe and report.author:
        report.signer = describe(report.author.fingerprint)
    return report


def _check_sums(folder: Path, report: DisclosureReport, state: dict) -> bool:
    listed: dict[str, str] = {}
    text = _read(folder, SUMS).decode("utf-8", "replace")
    if not text.endswith("\n"):
        return report.add("files", False, f"{SUMS} has a malformed line")
    # Lines end at "\n" only, as for sha256sum (str.splitlines would also split at \v, \f, …).
    for line in text[:-1].split("\n"):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or name in listed or name.startswith("/") or ".." in name.split("/"):
            return report.add("files", False, f"{SUMS} has a malformed line")
        listed[name] = digest
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    present.discard(SUMS)
    if present - set(listed):
        return report.add("files", False, f"file(s) not in {SUMS}: {', '.join(sorted(present - set(listed)))}")
    if set(listed) - present:
        return report.add("files", False, f"file(s) missing: {', '.join(sorted(set(listed) - present))}")
    for name, digest in sorted(listed.items()):
        if (folder / name).is_symlink():
            return report.add("files", False, f"{name} is a symbolic link")
        h = hashlib.sha256()
        with open(folder / name, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if not crypto.constant_time_equal(h.hexdigest().encode(), digest.encode()):
            return report.add("files", False, f"{name} does not match its SHA-256 in {SUMS}")
    for required in (STATEMENT, SSH_SIGNATURE, ALLOWED_SIGNERS, AUTHOR_CARD, DISCLOSURE, CUSTODY):
        if required not in listed:
            return report.add("files", False, f"{required} is missing")
    return report.add("files", True, f"{len(listed)} files match {SUMS}")


def _check_author(folder: Path, report: DisclosureReport, state: dict) -> bool:
    card = parse_card(_read(folder, AUTHOR_CARD))
    statement_bytes = _read(folder, STATEMENT)
    statement = verify_statement_shape(statement_bytes)
    author = statement["author"]
    if (bytes.fromhex(author["sign_key"]), bytes.fromhex(author["box_key"])) != (card.sign_key, card.box_key):
        return report.add("author card", False, "author.pub is not the card of the statement's author")
    report.author = card
    state.update(card=card, statement=statement, statement_bytes=statement_bytes)
    return report.add("author card", True, f"self-signed card of key {card.short_fingerprint}")


def verify_statement_shape(data: bytes) -> dict[str, Any]:
    return check_statement(parse_canonical(data, what="statement.json"))


def _check_statement(folder: Path, report: DisclosureReport, state: dict) -> bool:
    card, data = state["card"], state["statement_bytes"]
    disclosure = parse_canonical(_read(folder, DISCLOSURE), what="disclosure.json")
    keys = {"type", "version", "record", "signature", "revealed", "files", "created"}
    if not isinstance(disclosure, dict) or set(disclosure) != keys or disclosure["type"] != C.DISCLOSURE_TYPE \
            or type(disclosure["version"]) is not int or disclosure["version"] != C.FORMAT_VERSION:
        raise FormatError("disclosure.json is not a testimony disclosure")
    parse_time(disclosure["created"], what="disclosure created")
    verify_statement(data, from_hex(disclosure["signature"], length=64, what="signature"))
    report.add("signature", True, "the testimony signature over statement.json holds")
    key, sig = sshsig.dearmor(_read(folder, SSH_SIGNATURE).decode("ascii", "replace"))
    if key != card.sign_key:
        return report.add("ssh signature", False, "statement.json.sig is by another key")
    sshsig.verify(key, data, sig)
    if _read(folder, ALLOWED_SIGNERS).decode("ascii", "replace") != sshsig.allowed_signers_line(
            SSH_PRINCIPAL, card.sign_key):
        return report.add("ssh signature", False, "allowed_signers does not hold exactly the author's key")
    report.add("ssh signature", True, "the OpenSSH signature holds (ssh-keygen -Y verify agrees)")
    rid = record_id(data)
    if disclosure["record"] != rid:
        return report.add("record id", False, "disclosure.json names another record")
    report.record = rid
    state["disclosure"] = disclosure
    return report.add("record id", True, rid)


def _check_revealed(folder: Path, report: DisclosureReport, state: dict) -> bool:
    statement, disclosure = state["statement"], state["disclosure"]
    if not isinstance(disclosure["revealed"], list) or not isinstance(disclosure["files"], list):
        raise FormatError("disclosure.json is malformed")
    committed = committed_digests(statement)
    revealed = [check_disclosure(statement, item, committed) for item in disclosure["revealed"]]
    digests = [crypto.sha256(canonical(list(d))) for d in revealed]
    if len(set(digests)) != len(digests):
        return report.add("revealed fields", False, "a field is revealed twice")
    attachments = [v for _, n, v in revealed if n == C.ATTACHMENT_FIELD]
    report.revealed = [n if n != C.ATTACHMENT_FIELD else f"attachment {v['name']!r}" for _, n, v in revealed]
    report.hidden_fields = len(statement["fields"]) - sum(1 for _, n, _ in revealed if n != C.ATTACHMENT_FIELD)
    report.hidden_attachments = len(statement["attachments"]) - len(attachments)
    report.add("revealed fields", True, f"{len(revealed)} revealed, each matching its signed commitment")
    entries = disclosure["files"]
    if len(entries) != len(attachments) or not all(
            isinstance(e, dict) and set(e) == {"path", "sha256", "size"} for e in entries):
        return report.add("attachments", False, "disclosure.json files do not match the revealed attachments")
    for entry, value in zip(entries, attachments):
        path = entry["path"]
        if (not isinstance(path, str) or not path.startswith(f"{FILES}/") or ".." in path.split("/")
                or entry["sha256"] != value["sha256"] or entry["size"] != value["size"]):
            return report.add("attachments", False, f"the file entry for {value['name']!r} is wrong")
        target = folder / path
        try:
            present = target.is_file() and target.stat().st_size == value["size"]
        except OSError:  # e.g. a name too long for the file system (fuzz: long-attachment-path)
            present = False
        if not present:
            return report.add("attachments", False, f"{path} is missing or has the wrong size")
        h = hashlib.sha256()
        with open(target, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != value["sha256"]:
            return report.add("attachments", False, f"{path} is not the file the author signed")
        report.files.append({"name": value["name"], "path": path, "sha256": value["sha256"],
                             "size": value["size"], "media_type": value["media_type"]})
    return report.add("attachments", True, f"{len(entries)} file(s) match the signed size and SHA-256")


def _check_custody(folder: Path, report: DisclosureReport, state: dict) -> bool:
    custody = parse_canonical(_read(folder, CUSTODY), what="custody.json")
    if not (isinstance(custody, dict) and set(custody) == {"events", "heads"}
            and isinstance(custody["events"], list) and isinstance(custody["heads"], list)):
        raise FormatError("custody.json is malformed")
    heads = {}
    for value in custody["heads"]:
        head = check_head(value)
        heads[head.head_id] = head
    rid = report.record
    events = []
    for item in custody["events"]:
        if not (isinstance(item, dict) and set(item) == {"event", "inclusion"}):
            raise FormatError("a custody entry is malformed")
        event = check_event(item["event"])
        head = None
        if item["inclusion"] is not None:
            head = check_inclusion(event, item["inclusion"], heads)
        events.append((event, head))
    envelopes = {e.envelope for e, _ in events if e.record == rid}
    strays = [e for e, _ in events if e.envelope not in envelopes or e.record not in (None, rid)]
    if strays:
        return report.add("custody", False, f"{len(strays)} custody event(s) concern another record")
    author_fp = report.author.fingerprint
    if not any(e.event == "recorded" and e.actor == author_fp for e, _ in events):
        return report.add("custody", False, "the author's `recorded` event is missing")
    # A log proves what is in it, not what is missing, so completeness is checked along the
    # chain: each import needs its bundle's export, each exporter or discloser must have held
    # the record (recorded or imported it), and the package's own `disclosed` event is there.
    exports = {(e.bundle, e.actor, e.peer) for e, _ in events if e.event == "exported"}
    if any((e.bundle, e.peer, e.actor) not in exports for e, _ in events if e.event == "imported"):
        return report.add("custody", False, "an `imported` event has no `exported` event of its bundle")
    holders = {author_fp} | {e.actor for e, _ in events if e.event == "imported"}
    if any(e.actor not in holders for e, _ in events if e.event in ("exported", "disclosed")):
        return report.add("custody", False, "an actor exported or disclosed the record without a "
                                            "custody event showing it held it")
    if not any(e.event == "disclosed" for e, _ in events):
        return report.add("custody", False, "the `disclosed` event is missing")
    unproven = [e for e, h in events if h is None]
    if unproven:
        return report.add("custody", False, f"{len(unproven)} custody event(s) carry no log inclusion proof")
    from .custody import chain_order
    ordered = chain_order([e for e, _ in events])
    by_id = {e.event_id: h for e, h in events}
    report.custody = [{"event": e.event, "time": e.time, "actor": e.actor, "peer": e.peer,
                       "bundle": e.bundle, "log_size": by_id[e.event_id].size,
                       "head_time": by_id[e.event_id].time} for e in ordered]
    return report.add("custody", True, f"{len(events)} events signed and included in their actors' logs")

