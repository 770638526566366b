"""archive.composing: options + text header → record fields."""

from __future__ import annotations

import pytest

from archive.composing import compose_fields
from archive.errors import UsageError


def compose(**kw):
    base = dict(text=None, title=None, tags=[], witness=None, consent=None, location=None, language=None)
    return compose_fields(**{**base, **kw})


def test_options_only():
    assert compose(title="T", tags=["b", "a", "b"], witness="W-1", consent="public",
                   location="L", language="en") == {
        "title": "T", "tags": ["a", "b"], "witness": {"pseudonym": "W-1", "consent": "public"},
        "location": "L", "language": "en"}


def test_nothing_given_is_empty():
    assert compose() == {}


def test_header_fields_and_body():
    text = "title: T\ntags: x, y\nwitness: W\nconsent: legal\nlocation: L\nlanguage: kk\n---\nBody text.\n"
    assert compose(text=text) == {"title": "T", "tags": ["x", "y"],
                                  "witness": {"pseudonym": "W", "consent": "legal"},
                                  "location": "L", "language": "kk", "body": "Body text.\n"}


def test_body_kept_exactly_and_blank_body_dropped():
    assert compose(text="  spaced\n\n")["body"] == "  spaced\n\n"
    assert "body" not in compose(text="title: T\n---\n   \n\n")
    assert "body" not in compose(text="")


def test_tags_from_options_and_header_merge_sorted_unique():
    assert compose(text="tags: b, c\n---\n", tags=["a", "b"])["tags"] == ["a", "b", "c"]


def test_witness_defaults_to_internal_consent():
    assert compose(witness="W")["witness"] == {"pseudonym": "W", "consent": "internal"}
    assert compose(text="witness: W\n---\nx")["witness"]["consent"] == "internal"


def test_consent_option_applies_to_header_witness():
    assert compose(text="witness: W\n---\nx", consent="legal")["witness"] == {"pseudonym": "W", "consent": "legal"}


@pytest.mark.parametrize("option, header", [
    ("title", "title: B"), ("witness", "witness: B"), ("location", "location: B"),
    ("language", "language: B"), ("consent", "consent: legal"),
])
def test_field_given_both_ways_is_an_error(option, header):
    kw = {option: "legal" if option == "consent" else "A"}
    if option == "consent":
        kw["witness"] = "W"
    with pytest.raises(UsageError, match="both"):
        compose(text=f"{header}\n---\nbody", **kw)


def test_consent_without_witness_is_an_error():
    with pytest.raises(UsageError, match="without a witness") as e:
        compose(consent="legal")
    assert "--witness" in e.value.hint
    with pytest.raises(UsageError):
        compose(text="consent: public\n---\nx")


@pytest.mark.parametrize("consent", ["secret", "LEGAL", "Public", "none"])
def test_unknown_consent_is_an_error(consent):
    with pytest.raises(UsageError, match="consent must be one of"):
        compose(witness="W", consent=consent)


def test_text_without_header_is_body_only():
    text = "title: looks like a header\nbut has no separator\n"
    assert compose(text=text, title="Real") == {"title": "Real", "body": text}
