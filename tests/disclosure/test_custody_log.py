"""The custody log through bundles: a peer whose log forked or shrank is refused (and the
two heads are kept as evidence); bundles that arrive out of order still import; custody
shows every event proven in its actor's log, and when a record is provably older than
its author's key revocation.

A fork is made the way it happens in the field: an archive is restored from an old
copy (a backup, a cloned disk) and goes on signing different events, then exports again
to a peer that saw its log before.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from archive.encoding import format_time
from archive.errors import RollbackError

from .conftest import assert_error, assert_ok


def _snapshot(site, dest):
    shutil.copytree(site.root, dest, symlinks=True)
    return dest


def _restore(site, snapshot) -> None:
    shutil.rmtree(site.root)
    shutil.copytree(snapshot, site.root, symlinks=True)


def _record(site, *titles: str, out) -> list[str]:
    with site.open() as f:
        ids = [f.record(fields={"title": t}, to=["archive"]) for t in titles]
        f.export_bundle(["archive"], out)
    return ids


def _without_forks(state: dict) -> dict:
    """The state less the fork evidence: its rows, and the journal pack (and journal
    counter) that mirror them into the store (journal.py)."""
    objects = state["tables"]["objects"]
    journal_packs = {row[1] for row in objects if row[4] == "journal"}
    tables = {k: v for k, v in state["tables"].items() if k not in ("forks", "sqlite_sequence")}
    tables["objects"] = [row for row in objects if row[4] != "journal"]
    tables["packs"] = [row for row in tables["packs"] if row[0] not in journal_packs]
    packs = {k: v for k, v in state["packs"].items() if k not in journal_packs}
    return {**state, "tables": tables, "packs": packs}


@pytest.mark.parametrize("later, message", [
    (["Another first"], "forked at size 2; the bundle was refused and both heads kept"),
    (["Another first", "And a second"], "forked: its heads of 2 and 4 events are not one history; "
                                        "the bundle was refused and both heads kept"),
])
def test_forked_log_refused_and_evidence_kept(world, tmp_path, later, message):
    field, site = world["field"], world["archive"]
    before = _snapshot(field, tmp_path / "field-backup")
    _record(field, "The original first", out=tmp_path / "b1.tmy")     # log: recorded, exported
    with site.open() as a:
        a.import_bundle(tmp_path / "b1.tmy")
    _restore(field, before)
    _record(field, *later, out=tmp_path / "b2.tmy")                    # same key, other history

    state = site.state()
    with site.open() as a:
        with pytest.raises(RollbackError, match=message):
            a.import_bundle(tmp_path / "b2.tmy")
    after = site.state()
    assert _without_forks(after) == _without_forks(state)
    assert len(state["tables"]["forks"]) == 0 and len(after["tables"]["forks"]) == 1

    with site.open() as a:  # refused again, and the same evidence is not kept twice
        with pytest.raises(RollbackError):
            a.import_bundle(tmp_path / "b2.tmy")
        assert len(a.index.forks()) == 1
        evidence = a.sealer.open(*_fork_row(site))
    assert evidence["new"]["size"] == 2 * len(later) and [h["size"] for h in evidence["known"]] == [2]
    assert evidence["new"]["log"] == evidence["known"][0]["log"]   # both signed by field's key
    assert evidence["new"]["root"] != evidence["known"][0]["root"]


def _fork_row(site) -> tuple[str, bytes]:
    with site.db() as db:
        fork_id, sealed = db.execute("SELECT id, sealed FROM forks").fetchone()
    return fork_id.hex(), sealed


def test_shrunk_log_refused_cli(world, tmp_path):
    field, site = world["field"], world["archive"]
    before = _snapshot(field, tmp_path / "field-backup")
    _record(field, "One", "Two", "Three", out=tmp_path / "b1.tmy")    # 6 events
    assert_ok(site.run("bundle", "import", str(tmp_path / "b1.tmy")))
    _restore(field, before)
    _record(field, "Four", out=tmp_path / "b2.tmy")                    # 2 events, not a prefix

    state = site.state()
    r = site.run("bundle", "import", str(tmp_path / "b2.tmy"))
    line = assert_error(r, "shrank or forked: its heads of 2 and 6 events are not one history",
                        "the bundle was refused and both heads kept")
    assert line.startswith(f"Error: the custody log of key {field.fingerprint[:16]} ")
    after = site.state()
    assert _without_forks(after) == _without_forks(state) and len(after["tables"]["forks"]) == 1
    assert assert_ok(site.run("list", "--json")).stdout.count('"id"') == 3


def test_bundles_out_of_order_both_import(world, tmp_path):
    """b1 then b2 exported; b2 imported first. b1's older head is checked against b2's
    with the consistency proof b2 brought (b2 was made after field showed archive b1)."""
    field, site = world["field"], world["archive"]
    [r1] = _record(field, "First", out=tmp_path / "b1.tmy")
    [r2] = _record(field, "Second", out=tmp_path / "b2.tmy")        # r1 again (not yet acked)
    with site.open() as a:
        second = a.import_bundle(tmp_path / "b2.tmy")
        assert (second.new_records, second.gaps) == (2, [1])
        first = a.import_bundle(tmp_path / "b1.tmy")
        assert (first.new_records, first.held_objects, first.gaps) == (0, 1, [])
        assert a.index.forks() == []
        for rid, events in ((r1, 5), (r2, 3)):
            chain = a.custody(rid)
            assert len(chain.steps) == events and all(s.proven for s in chain.steps)
    shown = assert_ok(site.run("custody", r1[:12])).stdout.splitlines()
    assert shown[-1] == "5 custody events"
    events = shown[1:-1]
    assert [line.split()[1] for line in events] == ["recorded", "exported", "exported", "imported", "imported"]
    assert all("signature valid; in its log at #" in line for line in events)
    assert not any("NOT proven" in line for line in events)
    listed = json.loads(assert_ok(site.run("custody", r1[:12], "--json")).stdout)
    assert all(e["log"] is not None and e["log"]["inclusion_valid"] for e in listed["events"])
    assert listed["author_revoked"] is None


def _minutes_ago(n: int):
    value = format_time(datetime.now(timezone.utc) - timedelta(minutes=n))
    return lambda: value


def test_custody_proves_a_record_older_than_its_authors_revocation(world, tmp_path):
    field, site = world["field"], world["archive"]
    [rid] = _record(field, "Before the laptop was lost", out=tmp_path / "b1.tmy")
    with site.open(now=_minutes_ago(1)) as a:   # signed log heads date what the import brought
        a.import_bundle(tmp_path / "b1.tmy")
    assert_ok(site.run("peers", "revoke", "field"))
    shown = assert_ok(site.run("custody", rid[:12])).stdout.splitlines()
    revoked = next(line for line in shown if line.startswith("The author's key was revoked on "))
    proof = shown[-1]
    assert proof.startswith("Provably older than the revocation: this archive's own key logged it under "
                            "a head signed ")
    head_time, revoked_time = proof.rsplit(" ", 1)[1], revoked.removesuffix(".").rsplit(" ", 1)[1]
    assert head_time < revoked_time
    listed = json.loads(assert_ok(site.run("custody", rid[:12], "--json")).stdout)
    assert listed["author_revoked"] == revoked_time
    assert listed["provably_older_than_revocation"] == proof.split(": ", 1)[1]
    assert all(e["log"] is not None for e in listed["events"])


def test_custody_says_when_nothing_proves_the_record_older(world, tmp_path):
    field, site = world["field"], world["archive"]
    [rid] = _record(field, "Logged after the revocation date", out=tmp_path / "b1.tmy")
    with site.open() as a:
        a.import_bundle(tmp_path / "b1.tmy")
    with site.open(now=lambda: "2000-01-01T00:00:00Z") as a:   # a revocation dated before any head
        a.revoke_peer("field")
    shown = assert_ok(site.run("custody", rid[:12])).stdout.splitlines()
    assert shown[-2:] == ["The author's key was revoked on 2000-01-01T00:00:00Z.",
                          "Nothing here proves the record is older than the revocation."]
