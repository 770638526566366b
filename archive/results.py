"""What the facade (api.py) hands back: records listed and shown, verify and check reports,
a rebuilt index, a custody chain. Plain data, each with the `--json` form the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .custody import CustodyEvent


@dataclass
class RecordSummary:
    record_id: str
    kind: str
    created: str
    title: str
    tags: list[str]
    author: str
    author_fingerprint: str
    attachments: int
    signer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.record_id, "kind": self.kind, "created": self.created,
                "title": self.title, "tags": self.tags, "author": self.author,
                "author_fingerprint": self.author_fingerprint, "signer": self.signer,
                "attachments": self.attachments}


@dataclass
class RecordView:
    record_id: str
    statement: dict[str, Any]
    fields: dict[str, Any]
    attachments: list[dict[str, Any]]
    author_fingerprint: str
    signer: str          # "this archive's identity" or "a key not pinned here"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.record_id, "kind": self.statement["kind"],
                "created": self.statement["created"], "author": self.statement["author"]["name"],
                "author_fingerprint": self.author_fingerprint, "signer": self.signer,
                "signature_valid": True, "supersedes": self.statement["supersedes"],
                "fields": self.fields, "attachments": self.attachments}


@dataclass
class RecordCheck:
    record_id: str
    problems: list[str] = field(default_factory=list)
    signer: str = ""
    attachments_checked: int = 0
    custody_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    records: list[RecordCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records)

    @property
    def failed(self) -> list[RecordCheck]:
        return [r for r in self.records if not r.ok]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": len(self.records), "failed": len(self.failed),
                "records": [{"id": r.record_id, "ok": r.ok, "signer": r.signer,
                             "attachments_checked": r.attachments_checked,
                             "custody_events": r.custody_events,
                             "problems": r.problems} for r in self.records]}


@dataclass
class CheckReport:
    packs: int = 0
    objects: int = 0
    records: int = 0
    read_data: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "packs": self.packs, "objects": self.objects,
                "records": self.records, "read_data": self.read_data, "problems": self.problems}


@dataclass
class RebuildReport:
    packs: int = 0
    objects: int = 0
    records: int = 0
    journal_objects: int = 0
    journal_entries: int = 0
    moved_aside: Path | None = None
    unreadable_packs: list[str] = field(default_factory=list)   # damaged: left unindexed

    def to_json(self) -> dict[str, Any]:
        return {"packs": self.packs, "objects": self.objects, "records": self.records,
                "journal_objects": self.journal_objects, "journal_entries": self.journal_entries,
                "moved_aside": str(self.moved_aside) if self.moved_aside else None,
                "unreadable_packs": self.unreadable_packs}


@dataclass
class CustodyStep:
    event: CustodyEvent
    actor: str
    peer: str
    log_index: int | None = None      # where the event sits in its actor's log, if proven
    head_size: int | None = None
    head_time: str | None = None

    @property
    def proven(self) -> bool:
        return self.log_index is not None

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {"event": e.event, "time": e.time, "actor": e.actor, "actor_is": self.actor,
                "peer": e.peer, "peer_is": self.peer, "bundle": e.bundle, "envelope": e.envelope,
                "signature_valid": True,
                "log": ({"index": self.log_index, "head_size": self.head_size,
                         "head_time": self.head_time, "inclusion_valid": True}
                        if self.proven else None)}


@dataclass
class CustodyChain:
    record_id: str
    steps: list[CustodyStep]
    revoked: str | None = None              # the author's key revocation date, if any
    older_than_revocation: str | None = None  # who proves the record existed before it

    def to_json(self) -> dict[str, Any]:
        return {"id": self.record_id, "events": [s.to_json() for s in self.steps],
                "author_revoked": self.revoked, "provably_older_than_revocation": self.older_than_revocation}
