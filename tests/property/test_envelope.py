"""Envelopes: seal then open gives back exactly what was signed, for any field values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from archive import constants as C
from archive.encoding import padme
from archive.keys import create_identity
from archive.records import Draft, create_record, open_envelope

SETTINGS = settings(max_examples=50, deadline=None)
CREATED = "2024-05-01T10:00:00Z"
AUTHOR = create_identity("Property author", created=CREATED)
RECIPIENTS = [create_identity(f"R{i}", created=CREATED) for i in range(5)]

text = st.text(max_size=200)
field_values = {
    "title": text, "body": st.text(max_size=2000), "language": st.text(max_size=10),
    "location": text, "tags": st.lists(st.text(max_size=20), max_size=6),
    "witness": st.fixed_dictionaries({"pseudonym": text, "consent": st.sampled_from(C.CONSENT_LEVELS)}),
}
fields = st.fixed_dictionaries({}, optional=field_values)
attachments = st.lists(
    st.fixed_dictionaries({
        "name": st.text(max_size=60), "media_type": st.text(max_size=30),
        "size": st.one_of(st.sampled_from([0, 1, C.CHUNK_SIZE - 1, C.CHUNK_SIZE, C.CHUNK_SIZE + 1]),
                          st.integers(min_value=0, max_value=5 * C.CHUNK_SIZE)),
        "sha256": st.binary(min_size=32, max_size=32).map(bytes.hex),
    }),
    max_size=3, unique_by=lambda a: a["sha256"])


def _refs(size: int, seed: str) -> list[dict[str, Any]]:
    total, refs = padme(size), []
    while total > 0:
        part = min(total, C.CHUNK_SIZE)
        refs.append({"id": f"{len(refs):064x}", "key": seed, "size": part})
        total -= part
    return refs


@SETTINGS
@given(fields, attachments, st.integers(min_value=0, max_value=len(RECIPIENTS)),
       st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), max_size=3, unique=True),
       st.sampled_from(C.RECORD_KINDS))
def test_seal_open_round_trip(fields, attachments, n_recipients, supersedes, kind):
    chunks = {a["sha256"]: _refs(a["size"], a["sha256"]) for a in attachments}
    recipients = RECIPIENTS[:n_recipients]
    draft = Draft(kind, dict(fields), tuple(attachments), tuple(supersedes))
    record = create_record(AUTHOR, draft, chunks=chunks, recipients=[r.card.box_key for r in recipients],
                           created=CREATED)
    # The envelope shows no plaintext of any field (checked on long-enough values).
    for value in fields.values():
        if isinstance(value, str) and len(value.encode()) >= 16:
            assert value.encode() not in record.envelope
    for who in [AUTHOR, *recipients]:
        opened = open_envelope(record.envelope, who.box_secret)
        assert opened.record_id == record.record_id
        assert opened.kind == kind
        assert opened.fields == fields
        assert sorted(opened.attachments, key=lambda a: a["sha256"]) == \
            sorted(attachments, key=lambda a: a["sha256"])
        assert opened.chunks == chunks
        assert opened.statement["supersedes"] == sorted(supersedes)
        assert opened.author_fingerprint == AUTHOR.card.fingerprint
    # Stanzas in groups of 4 (author + recipients), then a payload padded to whole KiB.
    stanzas = 4 * ((n_recipients + 1 + 3) // 4)
    assert int.from_bytes(record.envelope[len(C.ENVELOPE_MAGIC):len(C.ENVELOPE_MAGIC) + 2], "big") == stanzas
    payload_len = len(record.envelope) - (len(C.ENVELOPE_MAGIC) + 2 + stanzas * C.SEALED_BOX_BYTES
                                          + C.XCHACHA_NONCE_BYTES + 16)
    assert payload_len > 0 and payload_len % C.ENVELOPE_PAD_MULTIPLE == 0


@SETTINGS
@given(fields.filter(bool))
def test_same_draft_twice_gives_two_records(fields):
    """A fresh nonce and fresh salts: the same words recorded twice are two records."""
    draft = Draft("testimony", dict(fields))
    a = create_record(AUTHOR, draft, chunks={}, recipients=[], created=CREATED)
    b = create_record(AUTHOR, draft, chunks={}, recipients=[], created=CREATED)
    assert a.record_id != b.record_id
    assert set(a.statement["fields"]).isdisjoint(b.statement["fields"])
