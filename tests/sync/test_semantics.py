"""Sync semantics: what is sent to whom, relays, acks, splitting, gaps and custody."""

from __future__ import annotations

import os

import pytest

from archive import constants as C
from archive.custody import check_event
from archive.errors import IntegrityError, NotFoundError, SignatureError, TrustError, UsageError
from archive.peerbook import UNVERIFIED

from .conftest import PREFIX, SEALED_MESSAGE, craft, frame, manifest_for, objects_of, signature_frame


def _ids(a, kinds=("envelope", "chunk")) -> set[bytes]:
    return {oid for oid, kind, _ in a.index.all_objects() if kind in kinds}


def _records(a) -> set[str]:
    return {r.record_id for r in a.list_records()}


def test_import_twice_is_a_noop_that_says_so(import_workers, world):
    with world["field"].open() as f:
        f.record(fields={"title": "Once"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "b.tmy")
    site = world["archive"]
    with site.open() as a:
        first = a.import_bundle(world.root / "b.tmy")
        assert not first.already_imported and first.new_records == 1
        before = site.state()
        again = a.import_bundle(world.root / "b.tmy")
        assert again.already_imported and again.bundle_id == first.bundle_id
        assert (again.new_objects, again.new_records, again.held_objects) == (0, 0, 0)
        assert site.state() == before


def test_courier_relays_envelopes_it_cannot_read(import_workers, world):
    """field → courier → archive: the courier stores and forwards; the last hop reads."""
    (world.root / "scan.pdf").write_bytes(b"%PDF-1.4 fictional scan\n" * 500)
    with world["field"].open() as f:
        r1 = f.record(fields={"title": "First", "body": "Kept from the courier.\n"},
                      attachments=[world.root / "scan.pdf"], to=["archive"])
        r2 = f.record(fields={"title": "Second"}, to=["archive"])
        sent = _ids(f)
        out = f.export_bundle(["courier"], world.root / "f-c.tmy")
        assert out.objects == len(sent) == 3
    with world["courier"].open() as c:
        r = c.import_bundle(world.root / "f-c.tmy")
        assert (r.new_objects, r.new_records, r.relay_only) == (3, 0, 2)
        assert c.list_records() == [] and c.verify().records == []
        assert _ids(c) == sent
        c.export_bundle(["archive"], world.root / "c-a.tmy")
    with world["archive"].open() as a:
        r = a.import_bundle(world.root / "c-a.tmy")
        assert (r.new_objects, r.new_records, r.relay_only) == (3, 2, 0)
        assert _records(a) == {r1, r2}
        assert a.show(r1).signer.startswith("field (field), pinned ")
        report = a.verify()
        assert report.ok and report.records and all(x.attachments_checked == (x.record_id == r1)
                                                    for x in report.records)
        [copy] = a.extract(r1, world.root / "out")
        assert copy.read_bytes() == (world.root / "scan.pdf").read_bytes()


def test_acks_shrink_exports_to_an_ack_only_bundle(world):
    with world["field"].open() as f:
        f.record(fields={"title": "Acked"}, to=["archive"])
        first = f.export_bundle(["archive"], world.root / "1.tmy")
        assert first.objects == 1 and first.acks == 0
    with world["archive"].open() as a:
        a.import_bundle(world.root / "1.tmy")
        back = a.export_bundle(["field"], world.root / "ack.tmy")
        # archive holds only what field sent: the bundle back carries nothing but the ack.
        assert (back.objects, back.acks) == (0, 1)
    assert (world.root / "ack.tmy").stat().st_size == PREFIX + SEALED_MESSAGE
    with world["field"].open() as f:
        r = f.import_bundle(world.root / "ack.tmy")
        assert (r.acks, r.new_objects) == (1, 0)
        again = f.export_bundle(["archive"], world.root / "2.tmy")
        assert (again.objects, again.acks) == (0, 1)
        assert again.files[0][1] == PREFIX + SEALED_MESSAGE
        # Re-importing the ack changes nothing.
        assert f.import_bundle(world.root / "ack.tmy").already_imported


def test_new_only_skips_unacked_default_resends_all_sends_everything(world):
    """A lost stick loses nothing: the default export re-sends what was not acked."""
    with world["field"].open() as f:
        r1 = f.record(fields={"title": "On the lost stick"}, to=["archive"])
        first_objects = _ids(f)
        f.export_bundle(["archive"], world.root / "lost.tmy")
        r2 = f.record(fields={"title": "After"}, to=["archive"])
        new = _ids(f) - first_objects
        only_new = f.export_bundle(["archive"], world.root / "new-only.tmy", mode="new-only")
        assert only_new.objects == len(new) == 1
        default = f.export_bundle(["archive"], world.root / "default.tmy")
        assert default.objects == 2
    (world.root / "lost.tmy").unlink()
    with world["archive"].open() as a:
        r = a.import_bundle(world.root / "new-only.tmy")
        assert _records(a) == {r2} and r.gaps == [1]
        r = a.import_bundle(world.root / "default.tmy")
        assert _records(a) == {r1, r2} and r.held_objects == 1 and r.gaps == [1]
        a.export_bundle(["field"], world.root / "ack.tmy")
    with world["field"].open() as f:
        assert f.import_bundle(world.root / "ack.tmy").acks == 2
        assert f.export_bundle(["archive"], world.root / "none.tmy").objects == 0
        assert f.export_bundle(["archive"], world.root / "none2.tmy", mode="new-only").objects == 0
        everything = f.export_bundle(["archive"], world.root / "all.tmy", mode="all")
        assert everything.objects == len(_ids(f)) == 2


def test_max_size_splits_into_bundles_each_importable_alone(world, world_template, tmp_path):
    """Each part imports on its own, in any order; together they give every record."""
    files = []
    for i in range(5):
        path = world.root / f"photo-{i}.jpg"
        path.write_bytes(os.urandom(90_000 + 1000 * i))
        files.append(path)
    with world["field"].open() as f:
        summary = f.add(files, to=["archive"])
        assert summary.new == 5
        everything, expected = _ids(f), _records(f)
        out = f.export_bundle(["archive"], world.root / "part.tmy", max_size="300K")
    assert len(out.files) >= 3 and out.objects == len(everything) == 10
    paths = [p for p, _, _ in out.files]
    assert [p.name for p in paths] == [f"part-{i}of{len(paths)}.tmy" for i in range(1, len(paths) + 1)]
    for path, size, _ in out.files:
        assert path.stat().st_size == size <= 300 * 1024
        assert (size - PREFIX) % SEALED_MESSAGE == 0
    seen: set[bytes] = set()
    for i, path in enumerate(paths):       # each alone, in a fresh copy of archive
        alone = world_template.clone(tmp_path / f"alone-{i}")
        with alone["archive"].open() as a:
            r = a.import_bundle(path)
            assert r.new_objects > 0 and r.gaps == list(range(1, i + 1))
            seen |= _ids(a)
    assert seen == everything
    with world["archive"].open() as a:      # all of them, last first
        for path in reversed(paths):
            a.import_bundle(path)
        assert _records(a) == expected and _ids(a) == everything
        assert a.check(read_data=True).ok and a.verify().ok
        assert a.import_bundle(paths[0]).already_imported


def test_an_export_too_many_records_for_one_manifest_is_split(world, monkeypatch):
    """The manifest is limited to 64 MiB: an export listing more custody events than one
    manifest holds is written as several bundles, not refused."""
    from archive import sync
    with world["field"].open() as f:
        for i in range(4):
            f.record(fields={"title": f"Statement {i}", "body": "Seen from the window.\n"},
                     to=["archive"])
        expected = _records(f)
        # Each envelope (one `recorded` and one `exported` event) now costs 24 MiB of
        # manifest budget: four of them cannot share one manifest.
        monkeypatch.setattr(sync, "_PER_EVENT", 12 << 20)
        out = f.export_bundle(["archive"], world.root / "many.tmy")
    assert len(out.files) >= 2 and out.objects == 4
    with world["archive"].open() as a:
        for path, _, _ in out.files:
            a.import_bundle(path)
        assert _records(a) == expected


def test_max_size_too_small_refused(world):
    (world.root / "big.bin").write_bytes(bytes(300_000))
    with world["field"].open() as f:
        f.add([world.root / "big.bin"], to=["archive"])
        with pytest.raises(UsageError, match="too small"):
            f.export_bundle(["archive"], world.root / "x.tmy", max_size="200K")
    assert list(world.root.glob("x*.tmy")) == []


def test_sequence_gaps_reported(world):
    with world["field"].open() as f:
        for n in (1, 2, 3):
            f.record(fields={"title": f"Stick {n}"}, to=["archive"])
            f.export_bundle(["archive"], world.root / f"{n}.tmy")
    with world["archive"].open() as a:
        assert a.import_bundle(world.root / "1.tmy").gaps == []
        r3 = a.import_bundle(world.root / "3.tmy")
        assert r3.gaps == [2] and len(a.list_records()) == 3
        assert a.import_bundle(world.root / "2.tmy").gaps == []


def test_export_refusals(world):
    with world["field"].open() as f:
        f.record(fields={"title": "x"}, to=["archive"])
        (world.root / "exists.tmy").write_bytes(b"keep me")
        with pytest.raises(UsageError, match="already exists"):
            f.export_bundle(["archive"], world.root / "exists.tmy")
        assert (world.root / "exists.tmy").read_bytes() == b"keep me"
        with pytest.raises(NotFoundError, match="no peer named"):
            f.export_bundle(["nobody"], world.root / "y.tmy")
        with pytest.raises(UsageError, match="does not exist"):
            f.export_bundle(["archive"], world.root / "no-such-folder" / "y.tmy")
        with pytest.raises(UsageError, match="not a size"):
            f.export_bundle(["archive"], world.root / "y.tmy", max_size="lots")
        assert f.index.db["sent"].count == 0
    assert not list(world.root.glob("*y.tmy*")) and not list(world.root.glob(".*partial"))


def test_default_recipients_decide_who_can_read(world):
    with world["field"].open() as f:
        assert f.set_default_recipients(["archive"]) == ["archive"]
        rid = f.record(fields={"title": "To the defaults"})
        lawyer_only = f.record(fields={"title": "To the lawyer"}, to=["lawyer"])
        f.export_bundle(["archive", "courier"], world.root / "both.tmy")
    with world["archive"].open() as a:
        r = a.import_bundle(world.root / "both.tmy")
        assert (r.new_records, r.relay_only) == (1, 1) and _records(a) == {rid}
    with world["courier"].open() as c:
        r = c.import_bundle(world.root / "both.tmy")
        assert (r.new_records, r.relay_only) == (0, 2)
    assert lawyer_only != rid


# --- custody --------------------------------------------------------------------------------------

def test_custody_chain_field_courier_archive(import_workers, world):
    with world["field"].open() as f:
        rid = f.record(fields={"title": "Chain"}, to=["archive"])
        f.export_bundle(["courier"], world.root / "f-c.tmy")
    with world["courier"].open() as c:
        b1 = c.import_bundle(world.root / "f-c.tmy").bundle_id
        c.export_bundle(["archive"], world.root / "c-a.tmy")
    with world["archive"].open() as a:
        b2 = a.import_bundle(world.root / "c-a.tmy").bundle_id
        chain = a.custody(rid[:10])
    F, K, A = (world[s].fingerprint for s in ("field", "courier", "archive"))
    assert [(s.event.event, s.event.actor, s.event.peer, s.event.bundle) for s in chain.steps] == [
        ("recorded", F, None, None), ("exported", F, K, b1), ("imported", K, F, b1),
        ("exported", K, A, b2), ("imported", A, K, b2)]
    assert [s.actor.split(" (")[0] for s in chain.steps] == [
        "field", "field", "courier", "courier", "this archive's own key"]
    for step in chain.steps:
        assert check_event(step.event.signed).event_id == step.event.event_id
        assert step.event.envelope == chain.steps[0].event.envelope
    # The courier cannot read the record, so its events name only the envelope.
    assert [s.event.record for s in chain.steps] == [rid, rid, None, None, rid]
    times = [s.event.time for s in chain.steps]
    assert times == sorted(times)
    assert chain.to_json()["events"][0]["signature_valid"] is True


def _relay_bundle(world):
    """courier holds field's record; return (courier site objects, custody events)."""
    with world["field"].open() as f:
        f.record(fields={"title": "Forged chain?"}, to=["archive"])
        f.export_bundle(["courier"], world.root / "f-c.tmy")
    with world["courier"].open() as c:
        c.import_bundle(world.root / "f-c.tmy")
        objs = objects_of(c)
        events = [e.signed for e in c.sync.events_for([o[0] for o in objs])]
    return objs, events


@pytest.mark.parametrize("forgery", ["time_moved", "actor_swapped", "event_renamed", "signature_zeroed"])
def test_forged_custody_event_fails_the_import(import_workers, world, forgery):
    """courier re-signs a manifest holding one event whose own signature is bad."""
    objs, events = _relay_bundle(world)
    event = next(e for e in events if e["event"] == "recorded")
    field = world["field"].card
    forged = {"time_moved": {**event, "time": "2020-01-01T00:00:00Z"},
              "actor_swapped": {**event, "actor": {"sign_key": world["courier"].card.sign_key.hex(),
                                                   "box_key": world["courier"].card.box_key.hex()}},
              "event_renamed": {**event, "event": "disclosed"},
              "signature_zeroed": {**event, "signature": "00" * 64}}[forgery]
    assert forged != event and field.sign_key.hex() == event["actor"]["sign_key"]
    me = world["archive"]
    with world["courier"].open() as c:
        manifest = manifest_for(c, recipients=[me.fingerprint], objects=[(i, k, s) for i, k, s, _ in objs],
                                custody=[e for e in events if e is not event] + [forged])
        body = (signature_frame(c.keys.sign_seed, c.keys.card.fingerprint, manifest)
                + frame(C.FRAME_MANIFEST, manifest)
                + b"".join(frame(C.FRAME_OBJECT, i, d) for i, _, _, d in objs) + frame(C.FRAME_END))
        honest = manifest_for(c, recipients=[me.fingerprint], objects=[(i, k, s) for i, k, s, _ in objs],
                              custody=events)
        control = (signature_frame(c.keys.sign_seed, c.keys.card.fingerprint, honest)
                   + frame(C.FRAME_MANIFEST, honest)
                   + b"".join(frame(C.FRAME_OBJECT, i, d) for i, _, _, d in objs) + frame(C.FRAME_END))
    (world.root / "forged.tmy").write_bytes(craft([me.card.box_key], body))
    (world.root / "honest.tmy").write_bytes(craft([me.card.box_key], control))
    with me.open() as a:
        before = me.state()
        with pytest.raises(SignatureError, match="custody event"):
            a.import_bundle(world.root / "forged.tmy")
        assert me.state() == before
        assert a.import_bundle(world.root / "honest.tmy").new_records == 1


# --- inspect ----------------------------------------------------------------------------------------

def test_inspect_reports_without_importing(world):
    (world.root / "photo.jpg").write_bytes(os.urandom(100_000))
    with world["field"].open() as f:
        f.record(fields={"title": "Inspect me"}, attachments=[world.root / "photo.jpg"], to=["archive"])
        f.export_bundle(["archive", "courier"], world.root / "b.tmy")
    data = bytearray((world.root / "b.tmy").read_bytes())
    assert len(data) > PREFIX + SEALED_MESSAGE   # damage in the last message, after the manifest
    data[-5] ^= 1
    (world.root / "damaged.tmy").write_bytes(bytes(data))
    site = world["archive"]
    with site.open() as a:
        before = site.state()
        r = a.inspect_bundle(world.root / "b.tmy")
        assert (r.sender_name, r.sender_fingerprint) == ("field site", world["field"].fingerprint)
        assert r.sender_status.startswith("field (field), pinned")
        assert r.signature_ok and r.intact and not r.already_imported and r.problem == ""
        assert sorted(r.recipients) == ["courier", "this archive"]
        assert (r.objects, r.envelopes, r.new_objects, r.custody_events) == (2, 1, 2, 3)
        bad = a.inspect_bundle(world.root / "damaged.tmy")
        assert not bad.intact and "failed authentication" in bad.problem
        assert site.state() == before
        a.import_bundle(world.root / "b.tmy")
        again = a.inspect_bundle(world.root / "b.tmy")
        assert again.already_imported and again.new_objects == 0


def test_inspect_of_an_unknown_senders_bundle_checks_its_own_card(world):
    with world["stranger"].open() as s:
        s.record(fields={"title": "Hello"}, to=["archive"])
        s.export_bundle(["archive"], world.root / "s.tmy")
    with world["archive"].open() as a:
        r = a.inspect_bundle(world.root / "s.tmy")
        assert r.signature_ok and r.intact and r.sender_status == UNVERIFIED
        with pytest.raises(TrustError):
            a.import_bundle(world.root / "s.tmy")
    with world["courier"].open() as c:
        with pytest.raises(TrustError, match="not addressed to us"):
            c.inspect_bundle(world.root / "s.tmy")


def test_damaged_bundle_import_names_no_part(world):
    """Every authentication failure is one message: no oracle about which part failed."""
    with world["field"].open() as f:
        f.record(fields={"title": "x"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "b.tmy")
    data = (world.root / "b.tmy").read_bytes()
    messages = set()
    with world["archive"].open() as a:
        for i in (330, 400, len(data) - 1):
            bad = bytearray(data)
            bad[i] ^= 4
            (world.root / "bad.tmy").write_bytes(bytes(bad))
            with pytest.raises(IntegrityError) as info:
                a.import_bundle(world.root / "bad.tmy")
            messages.add(str(info.value))
    assert len(messages) == 1


def test_acks_from_one_peer_do_not_count_for_another(world):
    """courier acknowledges a bundle that field sent to archive: field still re-sends it."""
    with world["field"].open() as f:
        f.record(fields={"title": "Unacked"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "f-a.tmy")
        [sent_to_archive] = [r[0] for r in f.index.db.execute("SELECT bundle FROM sent")]
    me = world["field"]
    with world["courier"].open() as c:
        manifest = manifest_for(c, recipients=[me.fingerprint], objects=[], acks=[sent_to_archive])
        body = (signature_frame(c.keys.sign_seed, c.keys.card.fingerprint, manifest)
                + frame(C.FRAME_MANIFEST, manifest) + frame(C.FRAME_END))
    (world.root / "fake-ack.tmy").write_bytes(craft([me.card.box_key], body))
    with me.open() as f:
        r = f.import_bundle(world.root / "fake-ack.tmy")
        assert r.acks == 0
        assert f.export_bundle(["archive"], world.root / "again.tmy").objects == 1
