"""archive.records: statements, field commitments, signatures, envelopes (seal/open)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archive import constants as C
from archive import crypto
from archive.encoding import canonical, pad_to_multiple, padme, u16, u32
from archive.errors import FormatError, IntegrityError, SignatureError, TrustError, UsageError
from archive.keys import create_identity
from archive import sshsig
from archive.records import (Draft, build_statement, check_field_value, check_statement,
                             create_record, decode_payload, envelope_payload, field_digest,
                             index_meta, open_envelope, record_id, seal_envelope, sign_statement,
                             slot_hint, stanza_count, verify_statement)

CREATED = "2024-05-01T10:00:00Z"
SHA = "ab" * 32
FIELDS = {"title": "Refused at the clinic", "body": "They said no.\n", "language": "en",
          "tags": ["clinic", "refusal"], "witness": {"pseudonym": "W-17", "consent": "legal"},
          "location": "Riverside"}


@pytest.fixture(scope="module")
def author():
    return create_identity("Field team", created=CREATED)


@pytest.fixture(scope="module")
def stranger():
    return create_identity("Stranger", created=CREATED)


def _salts(n: int) -> list[bytes]:
    return [bytes([i + 1]) * C.FIELD_SALT_BYTES for i in range(n)]


def _parts(author, fields=FIELDS, attachments=(), supersedes=()):
    draft = Draft("testimony", dict(fields), tuple(attachments), tuple(supersedes))
    return build_statement(author.card, draft, created=CREATED, nonce=bytes(range(16)),
                           salts=_salts(len(fields) + len(attachments)))


def _refs(size: int) -> list[dict[str, Any]]:
    total, refs, n = padme(size), [], 0
    while total > 0:
        part = min(total, C.CHUNK_SIZE)
        refs.append({"id": f"{n:064x}", "key": f"{n + 1:064x}", "size": part})
        total -= part
        n += 1
    return refs


def _frame(body: bytes) -> bytes:
    framed = u32(len(body)) + body
    return framed + bytes(pad_to_multiple(len(framed), C.ENVELOPE_PAD_MULTIPLE) - len(framed))


def _body(author, *, statement=None, disclosures=None, chunks=None, signature=None) -> dict[str, Any]:
    s, d = _parts(author)
    statement = s if statement is None else statement
    sig = signature if signature is not None else sign_statement(author, statement)[1]
    return {"statement": statement, "signature": sig.hex(),
            "sshsig": sshsig.sign(author.sign_seed, canonical(statement)).hex(),
            "disclosures": d if disclosures is None else disclosures,
            "chunks": {} if chunks is None else chunks}


@pytest.fixture(scope="module")
def sealed(author):
    return create_record(author, Draft("testimony", {"title": "t", "body": "b"}), chunks={},
                         recipients=[], created=CREATED)


# --- digests and ids ----------------------------------------------------------------------------

def test_field_digest_formula():
    salt = bytes(range(16))
    expected = crypto.sha256(C.FIELD + salt + canonical(["title", "x"]))
    assert field_digest(salt, "title", "x") == expected
    assert field_digest(salt, "body", "x") != expected
    assert field_digest(bytes(16), "title", "x") != expected


def test_record_id_formula():
    assert record_id(b"{}") == crypto.sha256(C.RECORD + b"{}").hex()


# --- field values -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("title", ""), ("title", "x"), ("body", "a\r\nb"), ("language", "ru"), ("location", "L"),
    ("tags", []), ("tags", ["a", "b"]),
    ("witness", {"pseudonym": "W", "consent": "internal"}),
    ("witness", {"pseudonym": "W", "consent": "public"}),
    ("attachment", {"name": "a.jpg", "media_type": "image/jpeg", "size": 0, "sha256": SHA}),
])
def test_field_values_of_the_right_shape(name, value):
    check_field_value(name, value)


@pytest.mark.parametrize("name, value", [
    ("title", 1), ("title", None), ("body", ["x"]), ("language", {}), ("location", True),
    ("tags", "a,b"), ("tags", [1]), ("tags", None),
    ("witness", "W-17"), ("witness", {"pseudonym": "W"}),
    ("witness", {"pseudonym": "W", "consent": "secret"}),
    ("witness", {"pseudonym": 1, "consent": "legal"}),
    ("witness", {"pseudonym": "W", "consent": "legal", "real_name": "X"}),
    ("attachment", {"name": "a", "media_type": "m", "size": -1, "sha256": SHA}),
    ("attachment", {"name": "a", "media_type": "m", "size": True, "sha256": SHA}),
    ("attachment", {"name": "a", "media_type": "m", "size": "1", "sha256": SHA}),
    ("attachment", {"name": "a", "media_type": "m", "size": 1, "sha256": SHA.upper()}),
    ("attachment", {"name": "a", "media_type": "m", "size": 1, "sha256": SHA[:-2]}),
    ("attachment", {"name": "a", "media_type": "m", "size": 1, "sha256": "zz" * 32}),
    ("attachment", {"name": "a", "media_type": "m", "size": 1, "sha256": SHA[:-1] + "\n"}),
    ("attachment", {"name": "a", "media_type": "m", "size": 1, "sha256": SHA[:-1] + "\u0660"}),
    ("attachment", {"name": 1, "media_type": "m", "size": 1, "sha256": SHA}),
    ("attachment", {"name": "a", "size": 1, "sha256": SHA}),
    ("author", "x"), ("Title", "x"), ("", "x"),
])
def test_field_values_of_the_wrong_shape(name, value):
    with pytest.raises(FormatError):
        check_field_value(name, value)


# --- statements ---------------------------------------------------------------------------------

def test_build_statement_is_pure_and_sorted(author):
    att = {"name": "a.jpg", "media_type": "image/jpeg", "size": 3, "sha256": SHA}
    s1, d1 = _parts(author, attachments=[att], supersedes=["ff" * 32, "00" * 32])
    s2, d2 = _parts(author, attachments=[att], supersedes=["ff" * 32, "00" * 32])
    assert (s1, d1) == (s2, d2)
    assert s1["fields"] == sorted(s1["fields"]) and len(s1["fields"]) == len(FIELDS)
    assert len(s1["attachments"]) == 1
    assert s1["supersedes"] == ["00" * 32, "ff" * 32]
    assert s1["author"] == author.card.author_dict()
    assert s1["nonce"] == bytes(range(16)).hex()
    digests = [field_digest(bytes.fromhex(salt), n, v).hex() for salt, n, v in d1]
    assert digests == sorted(digests)
    assert sorted(digests) == sorted(s1["fields"] + s1["attachments"])
    check_statement(s1)


def test_statement_holds_no_field_value(author):
    statement, _ = _parts(author)
    text = canonical(statement)
    for needle in (b"Refused", b"They said", b"W-17", b"Riverside", b"clinic", b"legal"):
        assert needle not in text


def test_build_statement_refuses_bad_input(author):
    with pytest.raises(ValueError):
        build_statement(author.card, Draft("testimony", {"title": "x"}), created=CREATED,
                        nonce=bytes(16), salts=[])
    with pytest.raises(ValueError):
        build_statement(author.card, Draft("memo", {"title": "x"}), created=CREATED,
                        nonce=bytes(16), salts=_salts(1))
    with pytest.raises(FormatError):
        build_statement(author.card, Draft("testimony", {"title": 5}), created=CREATED,
                        nonce=bytes(16), salts=_salts(1))


@pytest.mark.parametrize("change", [
    lambda s: s.pop("nonce"), lambda s: s.update(extra=1), lambda s: s.update(type="x"),
    lambda s: s.update(version=2), lambda s: s.update(kind="memo"),
    lambda s: s.update(author={"name": "x"}), lambda s: s["author"].update(sign_key="00"),
    lambda s: s["author"].update(name=None), lambda s: s.update(created="2024-05-01"),
    lambda s: s.update(nonce="00" * 15), lambda s: s.update(fields=list(reversed(s["fields"]))),
    lambda s: s.update(fields=s["fields"] + s["fields"][-1:]),
    lambda s: s.update(attachments="none"), lambda s: s.update(supersedes=["abc"]),
    lambda s: s.update(supersedes=[1]),
])
def test_check_statement_shape_errors(author, change):
    statement, _ = _parts(author)
    statement = json.loads(json.dumps(statement))
    change(statement)
    with pytest.raises(FormatError):
        check_statement(statement)


def test_sign_and_verify_statement(author):
    statement, _ = _parts(author)
    data, sig = sign_statement(author, statement)
    assert data == canonical(statement)
    assert verify_statement(data, sig) == statement


def test_statement_one_byte_changed_fails(author):
    """Every single-byte change of signed statement bytes: never accepted."""
    statement, _ = _parts(author)
    data, sig = sign_statement(author, statement)
    for i in range(len(data)):
        for delta in (1, 0x20):
            bad = bytearray(data)
            bad[i] ^= delta
            with pytest.raises((SignatureError, FormatError)):
                verify_statement(bytes(bad), sig)


def test_statement_changed_in_a_canonical_way_is_signature_error(author):
    statement, _ = _parts(author)
    data, sig = sign_statement(author, statement)
    changed = data.replace(b'"Field team"', b'"Field tean"')
    assert changed != data
    with pytest.raises(SignatureError):
        verify_statement(changed, sig)
    later = data.replace(CREATED.encode(), b"2024-05-01T10:00:01Z")
    with pytest.raises(SignatureError):
        verify_statement(later, sig)


def test_statement_claiming_another_author_is_refused(author, stranger):
    """A stranger signs a statement that names our key as its author."""
    statement, _ = _parts(author)
    data = canonical(statement)
    forged = crypto.sign(stranger.sign_seed, purpose=C.STATEMENT, message=data)
    with pytest.raises(SignatureError):
        verify_statement(data, forged)


def test_statement_signature_is_domain_separated(author):
    statement, _ = _parts(author)
    data = canonical(statement)
    wrong = crypto.sign(author.sign_seed, purpose=C.IDENTITY, message=data)
    with pytest.raises(SignatureError):
        verify_statement(data, wrong)


def test_non_canonical_statement_bytes_rejected(author):
    statement, _ = _parts(author)
    pretty = json.dumps(statement, indent=1).encode()
    sig = crypto.sign(author.sign_seed, purpose=C.STATEMENT, message=pretty)
    with pytest.raises(FormatError):
        verify_statement(pretty, sig)


# --- envelopes: sealing and opening -------------------------------------------------------------

def test_envelope_round_trip(author):
    att = {"name": "scan.pdf", "media_type": "application/pdf", "size": 5, "sha256": SHA}
    record = create_record(author, Draft("testimony", dict(FIELDS), (att,), ("cd" * 32,)),
                           chunks={SHA: _refs(5)}, recipients=[], created=CREATED)
    assert record.envelope_id == crypto.sha256(record.envelope)
    assert record.envelope.startswith(C.ENVELOPE_MAGIC)
    opened = open_envelope(record.envelope, author.box_secret)
    assert opened.record_id == record.record_id == record_id(opened.statement_bytes)
    assert opened.statement == record.statement
    assert opened.fields == FIELDS
    assert opened.attachments == [att]
    assert opened.chunks == {SHA: _refs(5)}
    assert opened.kind == "testimony"
    assert opened.author_fingerprint == author.card.fingerprint
    assert opened.statement["supersedes"] == ["cd" * 32]


def test_every_recipient_opens_and_others_cannot(author, stranger):
    recipients = [create_identity(f"R{i}", created=CREATED) for i in range(3)]
    record = create_record(author, Draft("testimony", {"title": "x"}), chunks={},
                           recipients=[r.card.box_key for r in recipients], created=CREATED)
    for who in [author, *recipients]:
        assert open_envelope(record.envelope, who.box_secret).record_id == record.record_id
    with pytest.raises(TrustError):
        open_envelope(record.envelope, stranger.box_secret)


def test_reencrypting_keeps_the_record_id(author, stranger):
    """The id names the signed statement, not any one encryption of it."""
    statement, disclosures = _parts(author)
    data, sig = sign_statement(author, statement)
    payload = envelope_payload(statement, sig, disclosures, {},
                               ssh_signature=sshsig.sign(author.sign_seed, data))
    first = seal_envelope(payload, [author.card.box_key])
    second = seal_envelope(payload, [author.card.box_key, stranger.card.box_key])
    assert first != second
    a = open_envelope(first, author.box_secret)
    b = open_envelope(second, stranger.box_secret)
    assert a.record_id == b.record_id == record_id(data)


def test_sealing_is_randomised(author):
    payload = _frame(canonical(_body(author)))
    assert seal_envelope(payload, [author.card.box_key]) != seal_envelope(payload, [author.card.box_key])


@pytest.mark.parametrize("recipients, stanzas", [(0, 4), (1, 4), (4, 4), (5, 8), (8, 8), (9, 12), (64, 64)])
def test_stanza_count(recipients, stanzas):
    assert stanza_count(recipients) == stanzas


def test_too_many_recipients_is_a_usage_error():
    with pytest.raises(UsageError, match="at most 64"):
        stanza_count(65)


def test_envelope_hides_recipient_count_and_payload_size(author):
    payload = _frame(canonical(_body(author)))
    keys = [create_identity(f"R{i}", created=CREATED).card.box_key for i in range(7)]
    sizes = {len(seal_envelope(payload, [author.card.box_key, *keys[:n]])) for n in range(4)}
    assert len(sizes) == 1
    # Duplicate recipients count once.
    assert len(seal_envelope(payload, [author.card.box_key] * 10)) == sizes.pop()
    n5 = seal_envelope(payload, [author.card.box_key, *keys[:4]])
    assert int.from_bytes(n5[len(C.ENVELOPE_MAGIC):len(C.ENVELOPE_MAGIC) + 2], "big") == 8
    short = create_record(author, Draft("testimony", {"body": "a"}), chunks={}, recipients=[], created=CREATED)
    longer = create_record(author, Draft("testimony", {"body": "a" * 100}), chunks={}, recipients=[],
                           created=CREATED)
    assert len(short.envelope) == len(longer.envelope)


def test_envelope_stanzas_are_shuffled(author):
    """The author's stanza is not always first (its position would tell it apart)."""
    payload = _frame(canonical(_body(author)))
    first = len(C.ENVELOPE_MAGIC) + 2
    positions = set()
    for _ in range(40):
        env = seal_envelope(payload, [author.card.box_key])
        for i in range(4):
            stanza = env[first + i * C.SEALED_BOX_BYTES:first + (i + 1) * C.SEALED_BOX_BYTES]
            if crypto.open_sealed(author.box_secret, stanza) is not None:
                positions.add(i)
    assert len(positions) > 1


def test_created_record_knows_the_authors_stanza_and_opening_reports_it(author, stranger):
    """The slot kept in the index is the stanza the author's key opens; opening finds it
    again whatever hint it is given, a wrong or absurd one included."""
    first = len(C.ENVELOPE_MAGIC) + 2
    for _ in range(12):
        record = create_record(author, Draft("testimony", {"body": "a"}), chunks={},
                               recipients=[stranger.card.box_key], created=CREATED)
        stanza = record.envelope[first + record.slot * C.SEALED_BOX_BYTES:
                                 first + (record.slot + 1) * C.SEALED_BOX_BYTES]
        assert crypto.open_sealed(author.box_secret, stanza) is not None
        for hint in (None, record.slot, (record.slot + 1) % 4, 3, 4, -1, 10**9):
            opened = open_envelope(record.envelope, author.box_secret, slot=hint)
            assert opened.record_id == record.record_id and opened.slot == record.slot
        theirs = open_envelope(record.envelope, stranger.box_secret, slot=record.slot)
        assert theirs.slot != record.slot and theirs.record_id == record.record_id


def test_a_hint_does_not_open_an_envelope_not_addressed_to_us(author, stranger):
    record = create_record(author, Draft("testimony", {"body": "a"}), chunks={}, recipients=[],
                           created=CREATED)
    for hint in (None, record.slot, 0, 3):
        with pytest.raises(TrustError):
            open_envelope(record.envelope, stranger.box_secret, slot=hint)


@pytest.mark.parametrize("meta, hint", [({"slot": 2}, 2), ({"slot": 0}, 0), ({}, None), ({"slot": -1}, None),
                                        ({"slot": 64}, None), ({"slot": True}, None), ({"slot": "1"}, None),
                                        ({"slot": 1.0}, None), ([], None), (None, None)])
def test_slot_hint_takes_only_a_sane_slot(meta, hint):
    assert slot_hint(meta) == hint


def test_index_meta_keeps_the_slot(author):
    statement, _ = _parts(author)
    assert slot_hint(index_meta(statement, {"title": "x"}, (), slot=3)) == 3


# --- envelopes: adversarial ---------------------------------------------------------------------

def _own_stanza(envelope: bytes, box_secret: bytes) -> range:
    first = len(C.ENVELOPE_MAGIC) + 2
    for i in range(C.ENVELOPE_MIN_STANZAS):
        at = first + i * C.SEALED_BOX_BYTES
        if crypto.open_sealed(box_secret, envelope[at:at + C.SEALED_BOX_BYTES]) is not None:
            return range(at, at + C.SEALED_BOX_BYTES)
    raise AssertionError("no stanza for the author")


def test_every_single_bit_flip_of_an_envelope_fails(author, sealed):
    """Never success, never an unexpected exception type; the failure depends on where.

    Magic and stanza count: FormatError. Our own stanza: it no longer opens, which is
    indistinguishable from "not addressed to us" (TrustError). Anywhere else (other
    stanzas, nonce, ciphertext, tag): the AEAD fails, IntegrityError.
    """
    envelope = sealed.envelope
    assert len(envelope) < 1500  # a small envelope: one stanza group, one padded KiB
    clear = len(C.ENVELOPE_MAGIC) + 2
    own = _own_stanza(envelope, author.box_secret)
    wrong = []
    for bit in range(len(envelope) * 8):
        at = bit // 8
        bad = bytearray(envelope)
        bad[at] ^= 1 << (bit % 8)
        expected = FormatError if at < clear else TrustError if at in own else IntegrityError
        try:
            open_envelope(bytes(bad), author.box_secret)
        except expected:
            continue
        except Exception as e:  # noqa: BLE001 - any other outcome is the failure we look for
            wrong.append((bit, type(e).__name__))
        else:
            wrong.append((bit, "opened"))
    assert wrong == []


def test_truncated_envelope_every_length(author, sealed):
    envelope = sealed.envelope
    for n in range(len(envelope)):
        with pytest.raises((FormatError, IntegrityError)):
            open_envelope(envelope[:n], author.box_secret)


def test_envelope_with_trailing_bytes_fails(author, sealed):
    for extra in (b"\0", b"\0" * 16, b"\0" * 1024):
        with pytest.raises(IntegrityError):
            open_envelope(sealed.envelope + extra, author.box_secret)


@pytest.mark.parametrize("count", [0, 1, 3, 5, 6, 63, 65, 68, 0xFFFF])
def test_envelope_stanza_count_out_of_rules(author, sealed, count, monkeypatch):
    monkeypatch.setattr(crypto, "open_sealed", lambda *a: pytest.fail("tried a stanza"))
    magic = len(C.ENVELOPE_MAGIC)
    bad = sealed.envelope[:magic] + u16(count) + sealed.envelope[magic + 2:]
    with pytest.raises(FormatError):
        open_envelope(bad, author.box_secret)


def test_oversized_envelope_refused_before_any_crypto(author, sealed, monkeypatch):
    monkeypatch.setattr(crypto, "open_sealed", lambda *a: pytest.fail("tried a stanza"))
    huge = sealed.envelope + bytes(C.MAX_ENVELOPE_BYTES)
    with pytest.raises(FormatError, match="limit"):
        open_envelope(huge, author.box_secret)


def test_envelope_spliced_ciphertext_fails(author):
    """Another envelope's ciphertext under our header: the AAD binds them."""
    a = create_record(author, Draft("testimony", {"title": "a"}), chunks={}, recipients=[], created=CREATED)
    b = create_record(author, Draft("testimony", {"title": "b"}), chunks={}, recipients=[], created=CREATED)
    ct_at = len(C.ENVELOPE_MAGIC) + 2 + 4 * C.SEALED_BOX_BYTES + C.XCHACHA_NONCE_BYTES
    with pytest.raises(IntegrityError):
        open_envelope(a.envelope[:ct_at] + b.envelope[ct_at:], author.box_secret)


def test_not_an_envelope(author):
    for junk in (b"", b"TESTIMONY-PACK-1\n" + bytes(2000), bytes(2000), b"TESTIMONY-ENVELOPE-2\n" + bytes(2000)):
        with pytest.raises(FormatError):
            open_envelope(junk, author.box_secret)


def _sealed_body(author, body: dict[str, Any] | bytes) -> bytes:
    raw = body if isinstance(body, bytes) else canonical(body)
    return seal_envelope(_frame(raw), [author.card.box_key])


def test_disclosure_differing_from_its_commitment_is_integrity_error(author):
    _, disclosures = _parts(author)
    lying = [[s, n, ("Nothing happened" if n == "title" else v)] for s, n, v in disclosures]
    with pytest.raises(IntegrityError, match="title"):
        open_envelope(_sealed_body(author, _body(author, disclosures=lying)), author.box_secret)


def test_disclosure_with_another_salt_is_integrity_error(author):
    _, disclosures = _parts(author)
    lying = [[("00" * 16 if n == "body" else s), n, v] for s, n, v in disclosures]
    with pytest.raises(IntegrityError):
        decode_payload(_frame(canonical(_body(author, disclosures=lying))))


def test_field_name_swapped_is_integrity_error(author):
    """The same value under another name (location shown as title) does not match."""
    fields = {"title": "Same", "location": "Same"}
    statement, disclosures = _parts(author, fields)
    swapped = [[s, {"title": "location", "location": "title"}[n], v] for s, n, v in disclosures]
    with pytest.raises(IntegrityError):
        decode_payload(_frame(canonical(_body(author, statement=statement, disclosures=swapped))))


def test_withheld_disclosure_is_integrity_error(author):
    _, disclosures = _parts(author)
    with pytest.raises(IntegrityError, match="exactly"):
        decode_payload(_frame(canonical(_body(author, disclosures=disclosures[1:]))))


def test_repeated_disclosure_is_refused(author):
    _, disclosures = _parts(author)
    with pytest.raises((IntegrityError, FormatError)):
        decode_payload(_frame(canonical(_body(author, disclosures=disclosures + disclosures[:1]))))


def test_field_disclosed_twice_is_format_error(author):
    """Two `title` values, both committed and signed: which one is the title? Refused."""
    statement, disclosures = _parts(author, {"title": "x"})
    salt = "77" * 16
    second = field_digest(bytes.fromhex(salt), "title", "y").hex()
    statement = dict(statement, fields=sorted(statement["fields"] + [second]))
    body = _body(author, statement=statement, disclosures=disclosures + [[salt, "title", "y"]])
    with pytest.raises(FormatError, match="twice"):
        decode_payload(_frame(canonical(body)))


@pytest.mark.parametrize("item", [
    "title", ["00" * 16, "title"], ["00" * 16, 1, "x"], ["00" * 15, "title", "x"],
    ["XX" * 16, "title", "x"], ["00" * 16, "secret", "x"], ["00" * 16, "title", 1],
])
def test_malformed_disclosure_is_format_error(author, item):
    _, disclosures = _parts(author)
    with pytest.raises(FormatError):
        decode_payload(_frame(canonical(_body(author, disclosures=[item, *disclosures]))))


def test_statement_changed_inside_the_envelope_is_signature_error(author):
    statement, disclosures = _parts(author)
    sig = sign_statement(author, statement)[1]
    changed = dict(statement, created="2020-01-01T00:00:00Z")
    body = _body(author, statement=changed, disclosures=disclosures, signature=sig)
    with pytest.raises(SignatureError):
        open_envelope(_sealed_body(author, body), author.box_secret)


def test_signature_of_wrong_form_is_format_error(author):
    body = _body(author)
    for sig in ("00" * 63, "zz" * 64, 5, None):
        with pytest.raises(FormatError):
            decode_payload(_frame(canonical(dict(body, signature=sig))))


def test_non_canonical_payload_is_rejected(author):
    body = _body(author)
    for raw in (json.dumps(body).encode(), json.dumps(body, sort_keys=True).encode(),
                canonical(body) + b" ", json.dumps(body, separators=(",", ":")).encode()):
        assert raw != canonical(body)
        with pytest.raises(FormatError):
            open_envelope(_sealed_body(author, raw), author.box_secret)


def test_payload_with_unknown_or_missing_keys(author):
    body = _body(author)
    for bad in (dict(body, extra=1), {k: v for k, v in body.items() if k != "chunks"}, [body]):
        with pytest.raises(FormatError):
            decode_payload(_frame(canonical(bad)))


def test_payload_framing_errors(author):
    good = _frame(canonical(_body(author)))
    decode_payload(good)
    with pytest.raises(FormatError, match="padding"):
        decode_payload(good[:-1] + b"\x01")
    with pytest.raises(FormatError):
        decode_payload(good[:-1])                                     # not a multiple of 1 KiB
    with pytest.raises(FormatError):
        decode_payload(good + bytes(C.ENVELOPE_PAD_MULTIPLE))         # padded too far
    with pytest.raises(FormatError):
        decode_payload(u32(len(good)) + good[4:])                     # length past the end
    length = int.from_bytes(good[:4], "big")
    with pytest.raises(FormatError):
        decode_payload(u32(length - 1) + good[4:])                    # shorter: trailing '}' is padding
    with pytest.raises(FormatError):
        decode_payload(b"")


# --- chunk lists inside envelopes ---------------------------------------------------------------

def _with_attachment(author, size: int, chunks: Any) -> bytes:
    att = {"name": "a.bin", "media_type": "application/octet-stream", "size": size, "sha256": SHA}
    statement, disclosures = _parts(author, {"title": "t"}, [att])
    return _frame(canonical(_body(author, statement=statement, disclosures=disclosures, chunks=chunks)))


@pytest.mark.parametrize("size", [0, 1, 5, C.CHUNK_SIZE, C.CHUNK_SIZE + 1, 3 * C.CHUNK_SIZE - 7])
def test_chunk_lists_that_cover_the_padded_size(author, size):
    opened = decode_payload(_with_attachment(author, size, {SHA: _refs(size)}))
    assert sum(r["size"] for r in opened.chunks[SHA]) == padme(size)


@pytest.mark.parametrize("chunks", [
    {},                                                           # missing list
    {SHA: _refs(5), "cd" * 32: []},                                # extra list
    {SHA: _refs(4)},                                              # does not cover the size
    {SHA: _refs(5) + [{"id": "00" * 32, "key": "00" * 32, "size": 1}]},
    {SHA: [{"id": "00" * 32, "key": "00" * 32, "size": 0}, *_refs(5)]},
    {SHA: [dict(_refs(5)[0], size=C.CHUNK_SIZE + 1)]},
    {SHA: [dict(_refs(5)[0], id="00")]},
    {SHA: [dict(_refs(5)[0], key="ZZ" * 32)]},
    {SHA: [dict(_refs(5)[0], extra=1)]},
    {SHA: [dict(_refs(5)[0], size="5")]},
    {SHA: "refs"},
    [],
])
def test_malformed_chunk_lists_are_format_errors(author, chunks):
    with pytest.raises(FormatError):
        decode_payload(_with_attachment(author, 5, chunks))


def test_index_meta(author):
    statement, _ = _parts(author)
    meta = index_meta(statement, {"title": "x"}, (), slot=None)
    assert "slot" not in meta and slot_hint(meta) is None
    assert meta["author"] == "Field team"
    assert meta["author_fingerprint"] == author.card.fingerprint
    assert meta["fields"] == {"title": "x"} and meta["attachments"] == []
    assert meta["kind"] == "testimony" and meta["created"] == CREATED
    canonical(meta)
