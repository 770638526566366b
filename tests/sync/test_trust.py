"""Trust: who may send us bundles, whose keys we pin, and revocations.

Named attacks: a bundle for someone else, from an unknown or revoked sender, signed by
another key, or whose manifest names a sender other than its signer; a swapped card at
`peers add`; a revoked key's statements made after its revocation, relayed by a
trusted courier.
"""

from __future__ import annotations

import pytest

from archive import constants as C
from archive.errors import FormatError, SignatureError, TrustError, UsageError
from archive.peerbook import UNVERIFIED
from archive.peers import Peer, peer_revocation

from .conftest import craft, frame, manifest_for, objects_of, signature_frame


def at(moment: str):
    return lambda: moment


def _import_refused(site, receiver, path, error, match=None):
    before = site.state()
    with pytest.raises(error, match=match):
        receiver.import_bundle(path)
    assert site.state() == before


@pytest.fixture
def recorded(world):
    """field has one record for archive and a bundle of it for archive."""
    with world["field"].open() as f:
        rid = f.record(fields={"title": "Coerced statement", "body": "They made him sign.\n"},
                       to=["archive"])
        f.export_bundle(["archive"], world.root / "to-archive.tmy")
        f.export_bundle(["courier"], world.root / "to-courier.tmy")
    return rid


def _crafted(world, sender, *, recipient="archive", seed=None, sig_fp=None, sender_card=None,
             recipients=None, objects=(), revocations=None, custody=None):
    """A bundle from `sender` (an open Archive) to the `recipient` site, one fault at a time."""
    me = world[recipient]
    manifest = manifest_for(sender, recipients=recipients or [me.fingerprint],
                            objects=[(i, k, s) for i, k, s, _ in objects], sender_card=sender_card,
                            revocations=revocations, custody=custody)
    body = (signature_frame(seed or sender.keys.sign_seed, sig_fp or sender.keys.card.fingerprint, manifest)
            + frame(C.FRAME_MANIFEST, manifest)
            + b"".join(frame(C.FRAME_OBJECT, i, d) for i, _, _, d in objects) + frame(C.FRAME_END))
    path = world.root / f"crafted-{len(list(world.root.glob('crafted-*')))}.tmy"
    path.write_bytes(craft([me.card.box_key], body))
    return path


# --- who may send -------------------------------------------------------------------------------

def test_bundle_not_addressed_to_us_refused(world, recorded):
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, world.root / "to-courier.tmy", TrustError, "not addressed to us")


def test_manifest_not_listing_us_refused(world, recorded):
    """The stanza opens for us, but the signed recipient list names someone else."""
    with world["field"].open() as f:
        path = _crafted(world, f, recipients=[world["courier"].fingerprint], objects=objects_of(f))
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, TrustError, "not addressed to us")


def test_unknown_sender_refused(world):
    """stranger knows archive's card, but archive never pinned stranger's key."""
    with world["stranger"].open() as s:
        s.record(fields={"title": "Unsolicited"}, to=["archive"])
        s.export_bundle(["archive"], world.root / "from-stranger.tmy")
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, world.root / "from-stranger.tmy", TrustError,
                        "not a pinned peer")


def test_revoked_sender_refused_even_for_bundles_made_before(world, recorded):
    with world["archive"].open() as a:
        peer = a.revoke_peer("field")
        assert not peer.trusted
        _import_refused(world["archive"], a, world.root / "to-archive.tmy", TrustError, "revoked")
        with pytest.raises(UsageError, match="already revoked"):
            a.revoke_peer("field")
        with pytest.raises(TrustError, match="revoked"):
            a.export_bundle(["field"], world.root / "back.tmy")
    assert not (world.root / "back.tmy").exists()


def test_bad_signature_refused(world):
    """Manifest and signature frame name field, but stranger's key signed it."""
    with world["stranger"].open() as s:
        seed = s.keys.sign_seed
    with world["field"].open() as f:
        f.record(fields={"title": "Forged?"}, to=["archive"])
        path = _crafted(world, f, seed=seed, objects=objects_of(f))
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, SignatureError, "signature does not verify")
        with pytest.raises(SignatureError):        # inspect does not vouch for it either
            a.inspect_bundle(path)


def test_manifest_sender_other_than_signer_refused(world):
    """field signs a manifest whose sender card is courier's: both pinned, still refused."""
    with world["field"].open() as f:
        f.record(fields={"title": "Who sent this?"}, to=["archive"])
        path = _crafted(world, f, sender_card=world["courier"].card, objects=objects_of(f))
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, SignatureError, "other than its signer")


def test_signature_frame_naming_another_peer_refused(world):
    """Signed by field but the signature frame claims courier's fingerprint."""
    with world["field"].open() as f:
        path = _crafted(world, f, sig_fp=world["courier"].fingerprint)
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, SignatureError)


# --- pinning ------------------------------------------------------------------------------------

def test_peers_add_wrong_fingerprint_pins_nothing(world):
    """lawyer has not pinned field; a swapped card (courier's, under field's fingerprint)."""
    site = world["lawyer"]
    with site.open() as law:
        before = site.state()
        for card, typed in [(world["field"].card_path, world["courier"].fingerprint[:32]),
                            (world["courier"].card_path, world["field"].fingerprint),
                            (world["field"].card_path, _last_digit_changed(world["field"].fingerprint[:32]))]:
            with pytest.raises(TrustError, match="does not match"):
                law.add_peer(card, name="field", role="field", fingerprint=typed)
        assert site.state() == before
        assert [p.name for p in law.list_peers()] == ["archive"]
        with pytest.raises(UsageError, match="32 hex digits"):
            law.add_peer(world["field"].card_path, name="field", role="field",
                         fingerprint=world["field"].fingerprint[:16])


@pytest.mark.parametrize("form", ["grouped_32", "grouped_64", "plain_32_upper", "dashes_64"])
def test_peers_add_accepts_32_or_64_digits_with_spaces(world, form):
    fp = world["field"].fingerprint
    typed = {"grouped_32": " ".join(fp[i:i + 4] for i in range(0, 32, 4)).upper(),
             "grouped_64": "  ".join(fp[i:i + 4] for i in range(0, 64, 4)) + " ",
             "plain_32_upper": fp[:32].upper(),
             "dashes_64": "-".join(fp[i:i + 8] for i in range(0, 64, 8))}[form]
    with world["lawyer"].open() as law:
        peer = law.add_peer(world["field"].card_path, name="Field team", role="field", fingerprint=typed)
        assert peer.fingerprint == fp
        assert {p.name for p in law.list_peers()} == {"archive", "Field team"}


def test_peers_add_refuses_own_card_duplicate_name_and_key(world):
    site = world["archive"]
    with site.open() as a:
        before = site.state()
        with pytest.raises(UsageError, match="own identity"):
            a.add_peer(site.card_path, name="me", role="archivist", fingerprint=site.fingerprint)
        with pytest.raises(UsageError, match="already named"):
            a.add_peer(world["stranger"].card_path, name="field", role="field",
                       fingerprint=world["stranger"].fingerprint)
        with pytest.raises(UsageError, match="already pinned"):
            a.add_peer(world["field"].card_path, name="field again", role="field",
                       fingerprint=world["field"].fingerprint)
        assert site.state() == before


def test_peers_add_refuses_a_tampered_card(world):
    card = world["field"].card_path.read_bytes().replace(b"field site", b"field sitf")
    (world.root / "tampered.pub").write_bytes(card)
    with world["lawyer"].open() as law:
        with pytest.raises(SignatureError):
            law.add_peer(world.root / "tampered.pub", name="field", role="field",
                         fingerprint=world["field"].fingerprint)


# --- revocations --------------------------------------------------------------------------------

def test_self_revocation_certificate_travels_in_later_bundles(world, recorded):
    """archive applies the certificate field's `init` wrote; its next bundle carries it to
    courier, which then revokes field too and refuses field's bundles."""
    cert = world["field"].revocation_cert
    with world["archive"].open() as a:
        revocation = a.import_revocation(cert)
        assert revocation.revoked == world["field"].fingerprint and revocation.is_self
        peer = next(p for p in a.list_peers() if p.name == "field")
        # A certificate signed ahead of need takes effect when it is first applied here.
        assert peer.revoked >= revocation.created and peer.revoked_by == world["field"].fingerprint
        a.export_bundle(["courier"], world.root / "archive-to-courier.tmy")
    with world["courier"].open() as c:
        assert next(p for p in c.list_peers() if p.name == "field").trusted
        r = c.import_bundle(world.root / "archive-to-courier.tmy")
        assert r.revocations == 1
        field = next(p for p in c.list_peers() if p.name == "field")
        assert field.revoked >= revocation.created
        _import_refused(world["courier"], c, world.root / "to-courier.tmy", TrustError, "revoked")


def test_peer_revocation_by_a_trusted_peer_travels(world):
    with world["archive"].open() as a:
        a.revoke_peer("field")
        a.export_bundle(["courier"], world.root / "archive-to-courier.tmy")
    with world["courier"].open() as c:
        r = c.import_bundle(world.root / "archive-to-courier.tmy")
        assert r.revocations == 1
        field = next(p for p in c.list_peers() if p.name == "field")
        assert not field.trusted and field.revoked_by == world["archive"].fingerprint


def test_revocation_by_an_unpinned_key_is_not_applied(world):
    """courier relays stranger's claim that field is revoked: archive does not follow it."""
    with world["stranger"].open() as s:
        claim = peer_revocation(s.keys, Peer("field", "field", world["field"].card, "2026-01-01T00:00:00Z"),
                                created="2026-02-01T00:00:00Z")
    with world["courier"].open() as c:
        path = _crafted(world, c, revocations=[claim.signed])
    with world["archive"].open() as a:
        r = a.import_bundle(path)
        assert r.revocations == 0
        assert next(p for p in a.list_peers() if p.name == "field").trusted


def test_forged_revocation_in_a_bundle_fails_the_import(world):
    with world["archive"].open() as a:
        claim = peer_revocation(a.keys, Peer("field", "field", world["field"].card, "2026-01-01T00:00:00Z"),
                                created="2026-02-01T00:00:00Z")
    forged = {**claim.signed, "created": "2026-01-15T00:00:00Z"}      # date moved, not re-signed
    with world["courier"].open() as c:
        path = _crafted(world, c, revocations=[forged])
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, SignatureError)
    with world["courier"].open() as c:
        path = _crafted(world, c, revocations=[{"type": "testimony/nonsense"}])
    with world["archive"].open() as a:
        _import_refused(world["archive"], a, path, FormatError)


def test_statements_after_revocation_refused_when_relayed(import_workers, world):
    """archive revokes field on 2027-01-01. courier, who has not heard, relays two of
    field's records: one signed before that date is kept (and shown with the
    revocation), one signed after is refused."""
    with world["field"].open(now=at("2026-03-01T10:00:00Z")) as f:
        old = f.record(fields={"title": "Before"}, to=["archive"])
    with world["field"].open(now=at("2027-03-01T10:00:00Z")) as f:
        new = f.record(fields={"title": "After"}, to=["archive"])
        f.export_bundle(["courier"], world.root / "to-courier.tmy")
    with world["courier"].open() as c:
        r = c.import_bundle(world.root / "to-courier.tmy")
        assert (r.new_records, r.relay_only) == (0, 2)
        c.export_bundle(["archive"], world.root / "to-archive.tmy")
    with world["archive"].open(now=at("2027-01-01T00:00:00Z")) as a:
        a.revoke_peer("field")
    with world["archive"].open() as a:
        r = a.import_bundle(world.root / "to-archive.tmy")
        assert (r.new_records, r.refused_revoked) == (1, 1)
        assert [x.record_id for x in a.list_records()] == [old]
        assert new not in {row.record_id for row in a.index.records()}
        view = a.show(old)
        assert "REVOKED on 2027-01-01T00:00:00Z" in view.signer
        assert a.verify(old).ok


def test_unpinned_author_listed_as_unverified(import_workers, world):
    """lawyer pins only archive; field's record reaches it through archive."""
    with world["field"].open() as f:
        rid = f.record(fields={"title": "For the lawyer"}, to=["archive", "lawyer"])
        f.export_bundle(["archive"], world.root / "f-a.tmy")
    with world["archive"].open() as a:
        a.import_bundle(world.root / "f-a.tmy")
        assert a.list_records()[0].signer.startswith("field (field), pinned ")
        a.export_bundle(["lawyer"], world.root / "a-l.tmy")
    with world["lawyer"].open() as law:
        r = law.import_bundle(world.root / "a-l.tmy")
        assert r.new_records == 1
        [summary] = law.list_records()
        assert summary.record_id == rid and summary.signer == UNVERIFIED == "unverified author (key not pinned here)"
        assert law.show(rid).signer == UNVERIFIED
        report = law.verify()
        assert report.ok and report.records[0].signer == UNVERIFIED


def _last_digit_changed(prefix: str) -> str:
    """The prefix with its last hex digit replaced by a different one (never the real one)."""
    return prefix[:-1] + ("1" if prefix[-1] == "0" else "0")
