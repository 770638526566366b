"""archive.textinput: the optional header block at the top of a testimony's text."""

from __future__ import annotations

import pytest

from archive.errors import UsageError
from archive.textinput import HEADER_KEYS, TEMPLATE, ParsedText, parse_text, split_tags


def test_full_header_and_body():
    text = ("title: Refused at the district hospital\ntags: hospital-refusal, almaty\n"
            "witness: W-17\nconsent: legal\nlocation: Almaty\nlanguage: ru\n---\nThe body.\n")
    parsed = parse_text(text)
    assert parsed.header == {"title": "Refused at the district hospital", "tags": "hospital-refusal, almaty",
                             "witness": "W-17", "consent": "legal", "location": "Almaty", "language": "ru"}
    assert parsed.body == "The body.\n"


def test_text_without_header_is_all_body_byte_for_byte():
    text = "  They came at night.\r\n\n---\nNo header here: the first line is not a key.  \n"
    assert parse_text(text) == ParsedText({}, text)


def test_first_line_a_key_but_no_separator_is_all_body():
    text = "title: not a header after all\nbecause nothing ends it\n"
    assert parse_text(text) == ParsedText({}, text)


def test_body_is_kept_exactly():
    body = "  indented\n\ttab\r\ntrailing spaces   \n\n\nÜnïcödé — ж\u200b\n"
    parsed = parse_text("title: t\n---\n" + body)
    assert parsed.body == body


def test_body_may_contain_separator_lines():
    parsed = parse_text("title: t\n---\nfirst\n---\nsecond")
    assert parsed.body == "first\n---\nsecond"


def test_empty_values_are_omitted_and_values_stripped():
    parsed = parse_text("title:   spaced out  \ntags:\nwitness: \n---\n")
    assert parsed.header == {"title": "spaced out"}
    assert parsed.body == ""


def test_keys_are_case_insensitive_and_values_may_hold_colons():
    parsed = parse_text("Title: Time: 10:30\nLOCATION : Square\n---\nb")
    assert parsed.header == {"title": "Time: 10:30", "location": "Square"}


def test_crlf_header():
    parsed = parse_text("title: t\r\nwitness: W\r\n---\r\nbody\r\n")
    assert parsed.header == {"title": "t", "witness": "W"}
    assert parsed.body == "body\r\n"


def test_unknown_key_in_header_is_an_error_naming_the_line():
    with pytest.raises(UsageError, match="line 2") as e:
        parse_text("title: t\nwitnes: W-17\n---\nbody")
    assert "---" in e.value.hint


def test_free_text_line_in_header_is_an_error():
    """A witness name typed into the header by mistake is not silently made body text."""
    with pytest.raises(UsageError, match="line 3"):
        parse_text("title: t\nwitness: W\nAigerim Bekova\n---\nbody")


def test_duplicate_key_is_an_error():
    with pytest.raises(UsageError, match="twice"):
        parse_text("title: a\nTitle: b\n---\n")


def test_template_parses_to_an_empty_header():
    parsed = parse_text(TEMPLATE)
    assert parsed.header == {"consent": "internal"}
    assert set(parsed.header) <= set(HEADER_KEYS)


@pytest.mark.parametrize("value, tags", [
    ("a, b,,c ", ["a", "b", "c"]), ("", []), (" , ", []), ("one", ["one"]),
    ("x y, z", ["x y", "z"]),
])
def test_split_tags(value, tags):
    assert split_tags(value) == tags


def test_empty_text():
    assert parse_text("") == ParsedText({}, "")
