"""archive.encoding: canonical JSON, hex, big-endian framing, Padmé, times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archive.encoding import (MAX_SAFE_INTEGER, canonical, format_time, from_hex,
                              group_fingerprint, pad_to_multiple, padme, parse_canonical,
                              parse_time, read_u16, read_u32, to_hex, u16, u32)
from archive.errors import FormatError


# --- canonical ------------------------------------------------------------------------------

def test_canonical_sorts_keys_and_has_no_whitespace():
    assert canonical({"b": 1, "a": [True, False, None], "c": {"z": "", "y": -3}}) == \
        b'{"a":[true,false,null],"b":1,"c":{"y":-3,"z":""}}'


def test_canonical_keeps_non_ascii_text_as_utf8_bytes():
    assert canonical("naïve ж 🙂") == '"naïve ж 🙂"'.encode("utf-8")


def test_canonical_does_not_normalise_text():
    composed, decomposed = "\u00e9", "e\u0301"
    assert canonical(composed) != canonical(decomposed)
    assert parse_canonical(canonical(decomposed)) == decomposed


@pytest.mark.parametrize("text, expected", [
    ("\n", b'"\\n"'), ("\t", b'"\\t"'), ("\r", b'"\\r"'), ("\b", b'"\\b"'), ("\f", b'"\\f"'),
    ("\x00", b'"\\u0000"'), ("\x1f", b'"\\u001f"'), ('"', b'"\\""'), ("\\", b'"\\\\"'),
    ("/", b'"/"'), ("\x7f", b'"\x7f"'), ("\u2028", '"\u2028"'.encode()),
])
def test_canonical_string_escapes_follow_rfc8785(text, expected):
    assert canonical(text) == expected
    assert parse_canonical(expected) == text


def test_canonical_sorts_keys_by_utf16_code_units():
    # U+FF61 sorts after U+1F600 by code point, but before it in UTF-16 (surrogate D83D).
    value = {"\U0001f600": 1, "\uff61": 2}
    assert canonical(value) == '{"\U0001f600":1,"\uff61":2}'.encode()
    assert sorted(value) == ["\uff61", "\U0001f600"]  # code-point order differs


def test_canonical_integer_range():
    assert canonical(MAX_SAFE_INTEGER) == str(MAX_SAFE_INTEGER).encode()
    assert canonical(-MAX_SAFE_INTEGER) == str(-MAX_SAFE_INTEGER).encode()
    with pytest.raises(ValueError):
        canonical(MAX_SAFE_INTEGER + 1)
    with pytest.raises(ValueError):
        canonical([-MAX_SAFE_INTEGER - 1])


@pytest.mark.parametrize("value", [1.0, 0.5, float("nan"), float("inf"), b"bytes", {1, 2}, object()])
def test_canonical_refuses_non_json_types(value):
    with pytest.raises(TypeError):
        canonical(value)


def test_canonical_refuses_non_string_keys():
    with pytest.raises(TypeError):
        canonical({1: "a"})
    with pytest.raises(TypeError):
        canonical({"a": 1, None: 2})


def test_canonical_refuses_lone_surrogates():
    with pytest.raises(ValueError):
        canonical("\ud800")
    with pytest.raises(ValueError):
        canonical({"\udfff": 1})


def test_canonical_booleans_are_not_integers():
    assert canonical([True, 1, False, 0]) == b"[true,1,false,0]"


# --- parse_canonical ------------------------------------------------------------------------

def test_parse_canonical_round_trip():
    value = {"a": [1, -2, "x", None, True, {"k": []}], "b": {}}
    assert parse_canonical(canonical(value)) == value


@pytest.mark.parametrize("untrusted", [
    b'{"a": 1}',                 # whitespace
    b' {"a":1}', b'{"a":1} ', b'{"a":1}\n',
    b'{"b":1,"a":2}',            # unsorted keys
    b'{"a":1,"a":1}',            # duplicate keys, even with equal values
    b'{"a":{"x":1,"x":2}}',
    b'1.0', b'1e3', b'1E3', b'-0.0', b'[0.5]',  # floats
    b'-0', b'01', b'+1',
    b'NaN', b'Infinity', b'-Infinity',
    b'"\\u0041"',                # escaped printable ASCII
    b'"\\/"',                    # escaped solidus
    b'"\\u00e9"',                # escaped non-ASCII
    b'"\\u000a"',                # long form where a short escape exists
    b'"\\u001F"',                # uppercase hex escape
    b'"\\ud800"',                # lone surrogate
    b'"\\ud83d\\ude00"',         # escaped surrogate pair (must be raw UTF-8)
    b'9007199254740992',         # 2**53: outside the interoperable range
    b'\xef\xbb\xbf{}',           # UTF-8 byte order mark
    b'"\xff"', b'"\xc3"',        # invalid UTF-8
    b'"\xed\xa0\x80"',           # UTF-8-encoded surrogate
    b'', b'{', b'[1,]', b'{"a":1,}', b"'a'", b'tru', b'nul', b'[1 2]',
    b'{}{}', b'1 2',
    b'"a\x00"',                  # raw control character in a string
    b'"\n"',
])
def test_parse_canonical_rejects_non_canonical(untrusted):
    with pytest.raises(FormatError):
        parse_canonical(untrusted)


def test_parse_canonical_rejects_deep_nesting_as_format_error():
    with pytest.raises(FormatError):
        parse_canonical(b"[" * 100_000 + b"]" * 100_000)


def test_parse_canonical_names_what_it_parsed():
    with pytest.raises(FormatError, match="bundle manifest"):
        parse_canonical(b"{ }", what="bundle manifest")


def test_parse_canonical_accepts_memoryview_like_bytes():
    assert parse_canonical(bytearray(b'{"a":1}')) == {"a": 1}


# --- hex --------------------------------------------------------------------------------------

def test_hex_round_trip():
    data = bytes(range(256))
    assert from_hex(to_hex(data)) == data
    assert to_hex(b"\xab\x01") == "ab01"


@pytest.mark.parametrize("text", ["AB", "aB", "abc", "zz", " ab", "ab\n", "0x00", None, 12, b"ab"])
def test_from_hex_rejects_anything_but_lowercase_hex(text):
    with pytest.raises(FormatError):
        from_hex(text)


def test_from_hex_checks_length():
    assert from_hex("00" * 32, length=32) == bytes(32)
    with pytest.raises(FormatError, match="32 bytes"):
        from_hex("00" * 31, length=32, what="key")
    with pytest.raises(FormatError):
        from_hex("00" * 33, length=32)


# --- framing ----------------------------------------------------------------------------------

def test_integers_are_big_endian():
    assert u16(0x0102) == b"\x01\x02"
    assert u32(0x01020304) == b"\x01\x02\x03\x04"
    assert read_u16(b"\xff\x01\x02", 1) == 0x0102
    assert read_u32(b"\x00\x00\x00\x00\x05", 1) == 5


def test_framing_refuses_out_of_range_values():
    with pytest.raises(Exception):
        u16(65536)
    with pytest.raises(Exception):
        u32(-1)


# --- padding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("length, padded", [
    (0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (7, 7), (8, 8), (9, 10), (10, 10),
    (17, 18), (33, 36), (100, 104), (129, 144), (1000, 1024), (1025, 1088),
    (1024 * 1024, 1024 * 1024), (1024 * 1024 + 1, 1024 * 1024 + 32768),
])
def test_padme_known_values(length, padded):
    assert padme(length) == padded


def test_pad_to_multiple():
    assert pad_to_multiple(0, 1024) == 0
    assert pad_to_multiple(1, 1024) == 1024
    assert pad_to_multiple(1024, 1024) == 1024
    assert pad_to_multiple(1025, 1024) == 2048


# --- times and fingerprints ---------------------------------------------------------------------

def test_format_time_converts_to_utc():
    moment = datetime(2024, 3, 1, 12, 30, 5, tzinfo=timezone(timedelta(hours=5)))
    assert format_time(moment) == "2024-03-01T07:30:05Z"


@pytest.mark.parametrize("text", ["2024-03-01T07:30:05Z", "2000-02-29T00:00:00Z"])
def test_parse_time_accepts_utc_times(text):
    assert parse_time(text) == text


@pytest.mark.parametrize("text", [
    "2024-03-01T07:30:05", "2024-03-01T07:30:05z", "2024-03-01 07:30:05Z",
    "2024-03-01T07:30:05+00:00", "2024-03-01T07:30:05.1Z", "2024-02-30T00:00:00Z",
    "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-03-01T24:00:00Z",
    "2024-03-01T07:30:05Z\n", "", None, 1709278205, "２０２４-03-01T07:30:05Z",
])
def test_parse_time_rejects(text):
    with pytest.raises(FormatError):
        parse_time(text)


def test_group_fingerprint_is_32_digits_in_groups_of_4():
    fp = "0123456789abcdef" * 4
    assert group_fingerprint(fp) == "0123 4567 89AB CDEF 0123 4567 89AB CDEF"
