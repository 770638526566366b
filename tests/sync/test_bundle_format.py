"""The bundle file format: layout, randomness, and every way its bytes can be wrong.

The byte sweeps use a one-message bundle and call BundleReader directly; samples of
the same faults also go through `Archive.import_bundle` to show the archive unchanged.
Crafted bundles are built with BundleWriter and signed with the real sender's seed, so
that the only fault in each is the one under test (a control bundle built the same way
imports cleanly).
"""

from __future__ import annotations

import io
import time
import tracemalloc
from types import SimpleNamespace

import pytest

import archive.bundle as bundle_mod
from archive import constants as C
from archive import crypto
from archive.bundle import BundleReader, BundleWriter, write_bundle
from archive.errors import ArchiveError, FormatError, IntegrityError, TrustError

from .conftest import (PREFIX, SEALED_MESSAGE, CraftWriter, MemFile, craft, frame, manifest_for,
                       objects_of, signature_frame)

FIELDS = {"title": "Refused at the clinic", "body": "The nurse said they had orders.\n",
          "tags": ["clinic"], "witness": {"pseudonym": "W-17", "consent": "legal"}}


@pytest.fixture(scope="module")
def env(world_template, tmp_path_factory):
    """field has three records for archive; `small` is a one-message bundle of the first,
    `big` a ~200 KB bundle holding them all. field and archive stay open for the module."""
    w = world_template.clone(tmp_path_factory.mktemp("format") / "w")
    root = w.root
    with w["field"].open() as f:
        rid = f.record(fields=FIELDS, to=["archive"])
        f.export_bundle(["archive"], root / "small.tmy")
        (root / "note.txt").write_bytes(b"a short scanned note\n" * 40)
        f.record(fields={"title": "Second statement", "body": "Another account.\n"},
                 attachments=[root / "note.txt"], to=["archive"])
        (root / "photo.jpg").write_bytes(bytes(200_000))   # zeros: the bundle must still look random
        f.add([root / "photo.jpg"], to=["archive"])
        f.export_bundle(["archive"], root / "big.tmy", mode="all")
    field_ctx, archive_ctx = w["field"].open(), w["archive"].open()
    field, receiver = field_ctx.__enter__(), archive_ctx.__enter__()
    ns = SimpleNamespace(world=w, field=field, archive=receiver, rid=rid,
                         small=(root / "small.tmy").read_bytes(), big=(root / "big.tmy").read_bytes(),
                         objects=objects_of(field), seq=[0])
    yield ns
    archive_ctx.__exit__(None, None, None)
    field_ctx.__exit__(None, None, None)


def read(ns, data, *, size=None, end=None):
    """Open `data` as the archive site would, and stream every object."""
    reader = BundleReader(MemFile(data, end), len(data) if size is None else size,
                          ns.archive.keys.box_secret, ns.archive.peers.sign_key_for)
    return reader.manifest, list(reader.objects())


def import_fails(ns, data, error=ArchiveError, match=None):
    """Import `data` as a file into the archive site: `error`, and nothing changed."""
    ns.seq[0] += 1
    path = ns.world.root / f"attempt-{ns.seq[0]}.tmy"
    path.write_bytes(data)
    before = ns.world["archive"].state()
    with pytest.raises(error, match=match):
        ns.archive.import_bundle(path)
    assert ns.world["archive"].state() == before
    path.unlink()


@pytest.fixture
def cached_stanzas(monkeypatch):
    """Memoise hidden_open: stanzas left intact open the same way every time, so the
    sweeps pay the X25519 cost only for the stanzas they change."""
    real, cache = crypto.hidden_open, {}

    def hidden_open(box_secret, stanza):
        key = (bytes(box_secret), bytes(stanza))
        if key not in cache:
            cache[key] = real(box_secret, stanza)
        return cache[key]
    monkeypatch.setattr(crypto, "hidden_open", hidden_open)


# --- layout -------------------------------------------------------------------------------------

def test_round_trip_writer_to_reader(env):
    """Objects and manifest come back exactly as written, in order, each checked."""
    objs = env.objects[:3]
    manifest = manifest_for(env.field, recipients=[env.world["archive"].fingerprint],
                            objects=[(i, k, s) for i, k, s, _ in objs])
    out = io.BytesIO()
    size = write_bundle(out, recipient_box_keys=[env.world["archive"].card.box_key],
                        signing_seed=env.field.keys.sign_seed,
                        signer_fingerprint=env.field.keys.card.fingerprint, manifest=manifest,
                        objects=iter([(i, d) for i, _, _, d in objs]))
    data = out.getvalue()
    assert size == len(data)
    m, got = read(env, data)
    assert m.raw == manifest
    assert m.sender.fingerprint == env.world["field"].fingerprint
    assert m.recipients == (env.world["archive"].fingerprint,)
    assert got == [(i, k, d) for i, k, _, d in objs]


def test_exported_bundle_round_trips(env):
    m, got = read(env, env.small)
    assert m.sender.fingerprint == env.world["field"].fingerprint
    assert [o[1] for o in got] == ["envelope"]
    assert got[0][2] in {d for _, _, _, d in env.objects}
    assert [e["event"]["event"] for e in m.custody] == ["recorded", "exported"]
    assert all(e["inclusion"] is not None for e in m.custody)  # the sender proves its own events


def test_size_is_prefix_plus_whole_messages(env):
    assert PREFIX == 344 and SEALED_MESSAGE == 65536 + 17
    assert len(env.small) == PREFIX + SEALED_MESSAGE
    k, rest = divmod(len(env.big) - PREFIX, SEALED_MESSAGE)
    assert rest == 0 and k >= 3
    assert BundleWriter.sealed_size(0) == PREFIX + SEALED_MESSAGE
    assert BundleWriter.sealed_size(65536) == PREFIX + SEALED_MESSAGE
    assert BundleWriter.sealed_size(65537) == PREFIX + 2 * SEALED_MESSAGE


def test_no_magic_and_nothing_in_clear(env):
    out = env.world.root / "again.tmy"
    env.field.export_bundle(["archive"], out, mode="all")
    again = out.read_bytes()
    out.unlink()
    # The same content exported twice shares no prefix: no magic, no clear header.
    assert again[:8] != env.big[:8] and again[:4] != env.small[:4]
    f = env.world["field"]
    card = f.card
    clear = [b"testimony", b"TESTIMONY", b"field site", f.fingerprint.encode(),
             bytes.fromhex(f.fingerprint)[:16], card.sign_key[:16], card.box_key[:16],
             env.world["archive"].card.box_key[:16], env.rid.encode(), bytes.fromhex(env.rid)[:16],
             b"Refused at the clinic", b"W-17", bytes(64)]
    for data in (env.small, env.big):
        for needle in clear:
            assert needle not in data, needle
        for oid, _, _, _ in env.objects:
            assert oid not in data


def test_bytes_look_random_chi_square(env):
    """A byte histogram over ~260 KB: 255 degrees of freedom, whose 1e-9 tail begins near
    410. The bundle carries 200 KB of zeros, padding and JSON, none of which may show."""
    data = env.big
    assert len(data) >= 200_000
    counts = [0] * 256
    for b in data:
        counts[b] += 1
    expected = len(data) / 256
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 410, chi2
    # And no long runs of one byte value (zero padding would show as one).
    longest = run = 1
    for a, b in zip(data, data[1:]):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    assert longest < 8


P = 2 ** 255 - 19


def _on_curve(representative: bytes) -> bool:
    """Is this 32-byte string, read as an X25519 public key, the u of a curve point
    (not of its twist)? Every real ephemeral key is; about half of random strings are not."""
    u = int.from_bytes(representative, "little") & ((1 << 255) - 1)
    u %= P
    v2 = (u * u * u + 486662 * u * u + u) % P
    return v2 == 0 or pow(v2, (P - 1) // 2, P) == 1


def test_stanzas_do_not_look_like_x25519_keys(env):
    """Sealed-box ephemeral keys are points on the curve with the top bit clear; the
    Elligator representatives in our stanzas must be uniform: top bits and curve
    membership vary about half and half across many stanzas."""
    keys = [env.world["archive"].card.box_key]
    stanzas = []
    for _ in range(40):
        out = io.BytesIO()
        BundleWriter(out, keys)
        prefix = out.getvalue()
        stanzas += [prefix[i * 80:i * 80 + 32] for i in range(4)]
    for data in (env.small, env.big):
        stanzas += [data[i * 80:i * 80 + 32] for i in range(4)]
    n = len(stanzas)
    top = sum(s[31] >> 7 for s in stanzas)
    second = sum((s[31] >> 6) & 1 for s in stanzas)
    curve = sum(_on_curve(s) for s in stanzas)
    for count in (top, second, curve):
        assert 0.3 * n < count < 0.7 * n, (top, second, curve, n)
    # For contrast: ordinary X25519 public keys are always on the curve, top bit clear.
    plain = [crypto.box_public_key(crypto.new_box_secret()) for _ in range(40)]
    assert all(_on_curve(k) and k[31] >> 7 == 0 for k in plain)


# --- truncation ---------------------------------------------------------------------------------

def test_truncated_bundle_every_byte(env):
    """A file cut at any byte, with its true (short) size: refused, always an ArchiveError."""
    data = env.small
    for n in range(len(data)):
        with pytest.raises(ArchiveError) as info:
            read(env, memoryview(data)[:n])
        assert type(info.value) is IntegrityError, (n, info.value)


def test_stream_cut_short_every_byte(env, cached_stanzas):
    """The size says whole but the bytes stop early (a stick pulled mid-read): the
    reader never returns and never raises anything but an ArchiveError."""
    data = env.small
    for n in range(len(data)):
        try:
            read(env, data, size=len(data), end=n)
        except ArchiveError as e:
            assert isinstance(e, (IntegrityError, TrustError)), (n, e)
        else:
            pytest.fail(f"a bundle cut at byte {n} was read as whole")


def test_two_message_bundle_cut_at_every_message_boundary(env):
    """Cut exactly after a whole message: sizes that look right, FINAL missing."""
    data = env.big
    for k in range(1, (len(data) - PREFIX) // SEALED_MESSAGE):
        with pytest.raises(IntegrityError):
            read(env, data[:PREFIX + k * SEALED_MESSAGE])


def test_truncated_bundle_import_leaves_archive_unchanged(env):
    data = env.small
    positions = sorted({0, 1, 79, 80, 320, 343, 344, 345, len(data) - 17, len(data) - 1,
                        *range(0, len(data), 4099)})
    for n in positions:
        import_fails(env, data[:n], IntegrityError)


# --- bit flips ----------------------------------------------------------------------------------

def test_bit_flip_every_byte(env, cached_stanzas):
    """One bit flipped at any byte (bit i % 8 at byte i): refused, never another error
    type. Our stanza → not addressed to us; anything else → authentication fails."""
    data = bytearray(env.small)
    for i in range(len(data)):
        bit = 1 << (i % 8)
        data[i] ^= bit
        try:
            read(env, data)
        except (IntegrityError, TrustError):
            pass
        except Exception as e:  # noqa: BLE001 - the point: nothing else may escape
            pytest.fail(f"flip at byte {i} raised {type(e).__name__}: {e}")
        else:
            pytest.fail(f"a bundle with byte {i} flipped was accepted")
        finally:
            data[i] ^= bit


def test_bit_flip_import_leaves_archive_unchanged(env):
    data = env.small
    for i in sorted({0, 31, 32, 79, 80, 200, 320, 330, 343, 344, 400, 5000, 40_000,
                     len(data) - 17, len(data) - 1}):
        flipped = bytearray(data)
        flipped[i] ^= 0x80
        import_fails(env, bytes(flipped), (IntegrityError, TrustError))


# --- crafted bundles: one fault each ------------------------------------------------------------

def _crafted(env, plain_objects, frames_after_manifest, *, manifest=None, seed=None, sig_fp=None,
             box_keys=None, head=None):
    """SIGNATURE ‖ MANIFEST ‖ frames_after_manifest, sealed to the archive site."""
    me = env.world["archive"]
    if manifest is None:
        manifest = manifest_for(env.field, recipients=[me.fingerprint],
                                objects=[(i, k, s) for i, k, s, _ in plain_objects])
    sig = signature_frame(seed or env.field.keys.sign_seed, sig_fp or env.field.keys.card.fingerprint,
                          manifest)
    first = head if head is not None else sig + frame(C.FRAME_MANIFEST, manifest)
    return craft(box_keys or [me.card.box_key], first + b"".join(frames_after_manifest))


def obj_frame(o) -> bytes:
    oid, _, _, data = o
    return frame(C.FRAME_OBJECT, oid, data)


END = frame(C.FRAME_END)


@pytest.fixture(scope="module")
def two(env):
    """Two small objects of field's (an envelope and a chunk) and a third to splice in."""
    envelopes = [o for o in env.objects if o[1] == "envelope"]
    small_chunk = min((o for o in env.objects if o[1] == "chunk"), key=lambda o: o[2])
    assert small_chunk[2] < 4096
    return envelopes[0], small_chunk, envelopes[1]


def test_crafted_control_bundle_imports(env, two, world_template, tmp_path):
    """The crafting itself is sound: the well-formed version reads and imports."""
    a, b, _ = two
    data = _crafted(env, [a, b], [obj_frame(a), obj_frame(b), END])
    m, got = read(env, data)
    assert [g[0] for g in got] == [a[0], b[0]]
    clone = world_template.clone(tmp_path / "w")   # the same identities as env's world
    (tmp_path / "ok.tmy").write_bytes(data)
    with clone["archive"].open() as receiver:
        r = receiver.import_bundle(tmp_path / "ok.tmy")
    assert r.new_objects == 2 and r.new_records == 1


CASES = {
    # name: (frames after the manifest, given (a, b, c); manifest objects; expected error)
    "objects_reordered": (lambda a, b, c: [obj_frame(b), obj_frame(a), END], "ab", FormatError),
    "object_duplicated": (lambda a, b, c: [obj_frame(a), obj_frame(a), obj_frame(b), END], "ab", FormatError),
    "object_repeated_at_end": (lambda a, b, c: [obj_frame(a), obj_frame(b), obj_frame(b), END], "ab", FormatError),
    "object_spliced_from_another_bundle": (lambda a, b, c: [obj_frame(a), obj_frame(c), END], "ab", FormatError),
    "object_not_in_manifest": (lambda a, b, c: [obj_frame(a), obj_frame(b), obj_frame(c), END], "ab", FormatError),
    "object_missing": (lambda a, b, c: [obj_frame(a), END], "ab", FormatError),
    "end_missing": (lambda a, b, c: [obj_frame(a), obj_frame(b)], "ab", FormatError),
    "frames_after_end": (lambda a, b, c: [obj_frame(a), obj_frame(b), END, obj_frame(c)], "ab", FormatError),
    "bytes_after_end": (lambda a, b, c: [obj_frame(a), obj_frame(b), END, b"\x01"], "ab", FormatError),
    "end_with_a_body": (lambda a, b, c: [obj_frame(a), obj_frame(b), frame(C.FRAME_END, b"x")], "ab", FormatError),
    "object_short_of_its_size": (lambda a, b, c: [obj_frame(a), frame(C.FRAME_OBJECT, b[0], b[3][:-1]), END], "ab", FormatError),
    "object_bytes_do_not_match_id": (lambda a, b, c: [obj_frame(a), frame(C.FRAME_OBJECT, b[0], b[3][:-1] + bytes([b[3][-1] ^ 1])), END], "ab", IntegrityError),
    "envelope_bytes_do_not_match_id": (lambda a, b, c: [frame(C.FRAME_OBJECT, a[0], a[3][:100] + bytes([a[3][100] ^ 1]) + a[3][101:]), obj_frame(b), END], "ab", IntegrityError),
    "unknown_frame_type": (lambda a, b, c: [frame(9, a[0], a[3]), obj_frame(b), END], "ab", FormatError),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_crafted_frame_faults(env, two, name):
    build, listed, error = CASES[name]
    a, b, c = two
    pick = {"a": a, "b": b, "c": c}
    data = _crafted(env, [pick[x] for x in listed], build(a, b, c))
    with pytest.raises(error):
        read(env, data)
    import_fails(env, data, error)


def test_chunk_listed_as_envelope_refused(env, two):
    a, b, _ = two
    manifest = manifest_for(env.field, recipients=[env.world["archive"].fingerprint],
                            objects=[(a[0], "envelope", a[2]), (b[0], "envelope", b[2])])
    data = _crafted(env, None, [obj_frame(a), obj_frame(b), END], manifest=manifest)
    with pytest.raises(FormatError, match="not an envelope"):
        read(env, data)


def test_manifest_listing_an_object_twice_refused(env, two):
    a, _, _ = two
    manifest = manifest_for(env.field, recipients=[env.world["archive"].fingerprint],
                            objects=[(a[0], a[1], a[2])] * 2)
    data = _crafted(env, None, [obj_frame(a), obj_frame(a), END], manifest=manifest)
    with pytest.raises(FormatError, match="twice"):
        read(env, data)


@pytest.mark.parametrize("order", ["manifest_first", "signature_twice", "manifest_twice", "object_first"])
def test_crafted_header_frames_out_of_order(env, two, order):
    a, b, _ = two
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint],
                            objects=[(i, k, s) for i, k, s, _ in (a, b)])
    sig = signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
    man = frame(C.FRAME_MANIFEST, manifest)
    head = {"manifest_first": man + sig, "signature_twice": sig + sig + man,
            "manifest_twice": sig + man + man, "object_first": obj_frame(a) + sig + man}[order]
    rest = [obj_frame(b), END] if order == "object_first" else [obj_frame(a), obj_frame(b), END]
    data = _crafted(env, None, rest, head=head, manifest=manifest)
    with pytest.raises(FormatError):
        read(env, data)
    import_fails(env, data, FormatError)


@pytest.mark.parametrize("which, claimed", [
    ("object", 0xFFFF_FFFF), ("object", 3 << 30), ("object", C.BUNDLE_MAX_FRAME + 1),
    ("manifest", 0xFFFF_FFFF), ("manifest", C.BUNDLE_MAX_MANIFEST + 1), ("signature", 2 << 30),
    ("end", 1 << 31),
])
def test_length_claiming_gigabytes_refused_before_reading(env, two, monkeypatch, which, claimed):
    a, b, _ = two
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint], objects=[(a[0], a[1], a[2])])
    sig = signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
    man = frame(C.FRAME_MANIFEST, manifest)
    lie = lambda t: bytes([t]) + claimed.to_bytes(4, "big")  # noqa: E731
    plain = {"object": sig + man + lie(C.FRAME_OBJECT) + a[0] + a[3] + END,
             "manifest": sig + lie(C.FRAME_MANIFEST) + manifest,
             "signature": lie(C.FRAME_SIGNATURE) + sig[5:] + man,
             "end": sig + man + obj_frame(a) + lie(C.FRAME_END)}[which]
    data = craft([me.card.box_key], plain)
    asked = []
    real_read = bundle_mod._PlainStream.read

    def spy(self, n):
        asked.append(n)
        return real_read(self, n)
    monkeypatch.setattr(bundle_mod._PlainStream, "read", spy)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FormatError, match="claims"):
            read(env, data)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 4 * 1024 * 1024, peak          # nothing near the claimed size was allocated
    assert max(asked) < 1024 * 1024, asked        # and nothing near it was asked for
    import_fails(env, data, FormatError)


def test_manifest_length_past_end_of_file_is_truncation(env):
    """Under the limit, but longer than the bundle: the reader stops at the end of the file."""
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint], objects=[])
    sig = signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
    data = craft([me.card.box_key], sig + bytes([C.FRAME_MANIFEST]) + (60 << 20).to_bytes(4, "big") + manifest)
    tracemalloc.start()
    try:
        with pytest.raises((IntegrityError, FormatError)):
            read(env, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak


def _noncanonical_variants(raw: bytes) -> dict[str, bytes]:
    text = raw.decode()
    return {
        "space_after_colon": text.replace('":', '": ', 1).encode(),
        "trailing_newline": raw + b"\n",
        "keys_unsorted": b'{"version":1,' + raw[1:].replace(b',"version":1', b""),
        "duplicate_key": raw[:-1] + b',"version":1}',
        "escaped_solidus": text.replace("testimony/bundle", "testimony\\/bundle").encode(),
        "leading_bom": b"\xef\xbb\xbf" + raw,
    }


@pytest.mark.parametrize("variant", sorted(_noncanonical_variants(b'{"a":1,"version":1}')))
def test_manifest_not_canonical_refused(env, two, variant):
    """Re-signed by the real sender, so only canonicality is wrong."""
    a, _, _ = two
    me = env.world["archive"]
    raw = manifest_for(env.field, recipients=[me.fingerprint], objects=[(a[0], a[1], a[2])])
    bad = _noncanonical_variants(raw)[variant]
    assert bad != raw
    sig = signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, bad)
    data = craft([me.card.box_key], sig + frame(C.FRAME_MANIFEST, bad) + obj_frame(a) + END)
    with pytest.raises(FormatError):
        read(env, data)
    import_fails(env, data, FormatError)


# --- the secretstream layer ---------------------------------------------------------------------

def _three_messages(env, two):
    """A valid bundle of three messages (the object frames are padded with a big chunk)."""
    big = max((o for o in env.objects if o[1] == "chunk"), key=lambda o: o[2])
    a = two[0]
    data = _crafted(env, [a, big], [obj_frame(a), obj_frame(big), END])
    assert (len(data) - PREFIX) // SEALED_MESSAGE >= 3
    read(env, data)
    return data


def _messages(data):
    body = data[PREFIX:]
    return data[:PREFIX], [body[i:i + SEALED_MESSAGE] for i in range(0, len(body), SEALED_MESSAGE)]


def test_bytes_after_final_message_refused(env):
    data = env.small
    for extra in (b"\x00", bytes(16), crypto.random_bytes(SEALED_MESSAGE), data[PREFIX:]):
        with pytest.raises(IntegrityError):
            read(env, data + extra)
        import_fails(env, data + extra, IntegrityError)


def test_sealed_message_after_final_refused(env, two):
    """A real, authentic message pushed after the FINAL one."""
    a, b, _ = two
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint], objects=[(a[0], a[1], a[2])])
    out = io.BytesIO()
    w = CraftWriter(out, [me.card.box_key])
    w.raw(signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
          + frame(C.FRAME_MANIFEST, manifest) + obj_frame(a) + END)
    w.seal_message(final=True)
    w.seal_message(final=True)
    with pytest.raises(IntegrityError):
        read(env, out.getvalue())
    import_fails(env, out.getvalue(), IntegrityError)


def test_final_tag_in_the_middle_refused(env, two):
    """FINAL on the first of two messages whose frames continue into the second."""
    a, _, _ = two
    big = max((o for o in env.objects if o[1] == "chunk"), key=lambda o: o[2])
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint],
                            objects=[(a[0], a[1], a[2]), (big[0], big[1], big[2])])
    plain = (signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
             + frame(C.FRAME_MANIFEST, manifest) + obj_frame(a) + obj_frame(big) + END)
    out = io.BytesIO()
    w = CraftWriter(out, [me.card.box_key])
    w._buffer += plain[:C.BUNDLE_MESSAGE_BYTES]
    w._push(bytes(w._buffer), final=True)            # FINAL, though more follows
    w._buffer = bytearray(plain[C.BUNDLE_MESSAGE_BYTES:])
    w.raw(b"")
    w.seal_message(final=True)
    data = out.getvalue()
    with pytest.raises(IntegrityError):
        read(env, data)
    import_fails(env, data, IntegrityError)


def test_no_final_tag_refused(env, two):
    a, _, _ = two
    me = env.world["archive"]
    manifest = manifest_for(env.field, recipients=[me.fingerprint], objects=[(a[0], a[1], a[2])])
    out = io.BytesIO()
    w = CraftWriter(out, [me.card.box_key])
    w.raw(signature_frame(env.field.keys.sign_seed, env.field.keys.card.fingerprint, manifest)
          + frame(C.FRAME_MANIFEST, manifest) + obj_frame(a) + END)
    w.seal_message(final=False)
    with pytest.raises(IntegrityError):
        read(env, out.getvalue())
    import_fails(env, out.getvalue(), IntegrityError)


@pytest.mark.parametrize("fault", ["swap_2_3", "swap_1_2", "drop_middle", "repeat_first",
                                   "splice_other_bundle", "prefix_of_other_bundle"])
def test_messages_reordered_dropped_or_spliced(env, two, fault):
    data = _three_messages(env, two)
    other = _three_messages(env, two)     # same content and recipients, another key
    prefix, ms = _messages(data)
    other_prefix, oms = _messages(other)
    body = {"swap_2_3": [ms[0], ms[2], ms[1], *ms[3:]], "swap_1_2": [ms[1], ms[0], *ms[2:]],
            "drop_middle": [ms[0], *ms[2:]], "repeat_first": [ms[0], ms[0], *ms[1:]],
            "splice_other_bundle": [ms[0], oms[1], *ms[2:]],
            "prefix_of_other_bundle": ms}[fault]
    head = other_prefix if fault == "prefix_of_other_bundle" else prefix
    bad = head + b"".join(body)
    with pytest.raises(IntegrityError):
        read(env, bad)
    import_fails(env, bad, IntegrityError)
