"""Canonical JSON: one encoding per value, and every other encoding refused."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from archive.encoding import MAX_SAFE_INTEGER, canonical, parse_canonical
from archive.errors import FormatError

SETTINGS = settings(max_examples=100, deadline=None)

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
    st.integers(min_value=-1000, max_value=1000),
    st.text(max_size=20),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=10),   # control characters, quotes
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=25,
)
objects = st.dictionaries(st.text(max_size=8), json_values, min_size=2, max_size=5)


def same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1 and lists from dicts."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) or (set(a) == set(b) and all(same(a[k], b[k]) for k in a))
    return a == b


def _rejected(data: bytes) -> bool:
    try:
        parse_canonical(data)
    except FormatError:
        return True
    return False


@SETTINGS
@given(json_values)
def test_value_round_trip(value):
    data = canonical(value)
    parsed = parse_canonical(data)
    assert same(parsed, value)
    assert canonical(parsed) == data


@SETTINGS
@given(json_values)
def test_canonical_is_valid_json_and_utf8(value):
    data = canonical(value)
    assert same(json.loads(data.decode("utf-8")), value)
    assert b"\n" not in data and b"\r" not in data


# Inputs near JSON, so that many of them parse.
json_alphabet = st.sampled_from(list('{}[]",:0123456789-+.eE ntrufalsx\\u/\t\n') + ["é", "\u2028", "\x00"])
near_json = st.one_of(
    st.binary(max_size=40),
    st.lists(json_alphabet, max_size=30).map(lambda xs: "".join(xs).encode("utf-8")),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()),
    json_values.map(canonical),
)


@SETTINGS
@given(near_json)
def test_bytes_that_parse_are_canonical(data):
    try:
        value = parse_canonical(data)
    except FormatError:
        return
    assert canonical(value) == data


@SETTINGS
@given(near_json)
def test_parse_never_raises_anything_but_format_error(data):
    try:
        parse_canonical(data)
    except FormatError:
        pass


# --- non-canonical variants are rejected -----------------------------------------------------

@SETTINGS
@given(json_values, st.sampled_from([" ", "\n", "\t", "\r", "\r\n"]), st.booleans())
def test_surrounding_whitespace_rejected(value, space, before):
    data = canonical(value)
    assert _rejected((space.encode() + data) if before else (data + space.encode()))


@SETTINGS
@given(json_values.filter(lambda v: isinstance(v, (list, dict)) and len(v) >= 1),
       st.sampled_from([1, 2, "\t", "\n"]))
def test_indented_or_spaced_rejected(value, indent):
    pretty = json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=True).encode()
    spaced = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, sort_keys=True).encode()
    for variant in (pretty, spaced):
        if variant != canonical(value):
            assert _rejected(variant)


@SETTINGS
@given(objects)
def test_unsorted_keys_rejected(value):
    order = sorted(value, key=lambda k: k.encode("utf-16-be"))
    assume(len(order) >= 2)
    reversed_keys = "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]).decode()
                                   for k in reversed(order)) + "}"
    assert _rejected(reversed_keys.encode())


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=4), st.data())
def test_duplicate_keys_rejected(value, data):
    key = data.draw(st.sampled_from(sorted(value)))
    dup = data.draw(json_values)
    items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
    at = [k for k, _ in items].index(key)
    items.insert(at + 1, (key, dup))   # adjacent, so the keys still look sorted
    text = "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v).decode() for k, v in items) + "}"
    assert _rejected(text.encode())


@SETTINGS
@given(st.integers(min_value=-10**6, max_value=10**6),
       st.sampled_from(["{}.0", "{}e0", "{}E0", "{}.5", "{}e+1", "{}.0e-1", "{}0e-1"]))
def test_floats_rejected(n, form):
    text = form.format(n)
    assert _rejected(text.encode())
    assert _rejected(f'{{"a":{text}}}'.encode())
    assert _rejected(f"[1,{text}]".encode())


@SETTINGS
@given(st.integers(min_value=MAX_SAFE_INTEGER + 1, max_value=2**70) | st.integers(max_value=-MAX_SAFE_INTEGER - 1, min_value=-2**70))
def test_integers_outside_the_safe_range_rejected(n):
    assert _rejected(str(n).encode())


@SETTINGS
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["0{}", "+{}", "-0{}", "00{}"]))
def test_integer_spellings_rejected(n, form):
    text = form.format(n)
    assume(text != "0")
    assert _rejected(text.encode())


@SETTINGS
@given(st.text(min_size=1, max_size=20))
def test_escaped_forms_rejected(text):
    """Any escape the canonical form does not use is refused."""
    data = canonical(text)
    ascii_escaped = json.dumps(text, ensure_ascii=True).encode()
    if ascii_escaped != data:
        assert _rejected(ascii_escaped)
    # Escaping any one character as \\uXXXX, unless that is the canonical spelling.
    for i, ch in enumerate(text):
        if ord(ch) > 0xFFFF:
            continue
        escaped = json.dumps(text[:i], ensure_ascii=False)[:-1] + f"\\u{ord(ch):04x}" + \
            json.dumps(text[i + 1:], ensure_ascii=False)[1:]
        if escaped.encode() != data:
            assert _rejected(escaped.encode())


@SETTINGS
@given(st.text(max_size=10), st.sampled_from(["\\/", "\\u00e9", "\\u0041", "\\uD800", "\\udc00", "\\u000A"]))
def test_specific_escapes_rejected(prefix, escape):
    body = json.dumps(prefix, ensure_ascii=False)[1:-1]
    assert _rejected(f'"{body}{escape}"'.encode())
