"""Canonical JSON (RFC 8785 restricted to integers), hex, big-endian framing, padding.

Pure functions over bytes: no I/O, no clock, no randomness. A reader accepts exactly
one encoding per value, so that a signature over received bytes means one thing.
"""

from __future__ import annotations

import json
import re
import struct
from datetime import datetime, timezone
from typing import Any

from .errors import FormatError

# I-JSON (RFC 7493): integers outside ±(2**53 - 1) do not survive other parsers.
MAX_SAFE_INTEGER = 2**53 - 1
_encode_string = json.encoder.encode_basestring  # the C version when available
_TIME_RE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def canonical(value: Any) -> bytes:
    """Encode `value` as RFC 8785 canonical JSON (integers only), UTF-8."""
    if _plain(value):
        # Only ASCII keys, safe integers and no floats: the C encoder's sorted, compact
        # output is then exactly RFC 8785 (see parse_canonical), and much faster.
        try:
            return json.dumps(value, ensure_ascii=False, sort_keys=True,
                              separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError("lone surrogate in a string; text must be valid Unicode") from e
    parts: list[str] = []
    _emit(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("lone surrogate in a string; text must be valid Unicode") from e


def _plain(value: Any) -> bool:
    """True if `value` holds only what the fast path encodes exactly like RFC 8785
    (ASCII keys, safe integers, no floats). Iterative, scalars checked in place: this
    runs on every signature."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            children = item.values()
        elif kind is list or kind is tuple:
            children = item
        else:
            children = (item,)
        for child in children:
            kind = type(child)
            if kind is str or child is None or kind is bool:
                continue
            if kind is int:
                if not -MAX_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:
                    return False
            elif kind is dict or kind is list or kind is tuple:
                stack.append(child)
            else:
                return False
    return True


def _emit(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        # The C string encoder behind json.dumps(ensure_ascii=False) escapes exactly what
        # RFC 8785 escapes.
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the interoperable range")
        out.append(str(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(_sorted_keys(value)):
            if i:
                out.append(",")
            out.append(_encode_string(key))
            out.append(":")
            _emit(value[key], out)
        out.append("}")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as canonical JSON")


def _sorted_keys(value: dict) -> list[str]:
    keys = list(value)
    if all(type(k) is str and k.isascii() for k in keys):
        return sorted(keys)  # for ASCII, code points and UTF-16 code units agree
    # RFC 8785 sorts keys by their UTF-16 code units, not by code points.
    return sorted(keys, key=_utf16_key)


def _utf16_key(key: str) -> bytes:
    if not isinstance(key, str):  # checked here: sorting happens before the loop below
        raise TypeError("JSON object keys must be strings")
    return key.encode("utf-16-be", "surrogatepass")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise FormatError("floating-point numbers are not allowed")


def _no_constant(text: str) -> Any:
    raise FormatError(f"{text} is not allowed")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise FormatError(f"integer {text} is outside the interoperable range")
    return value


def parse_canonical(untrusted: bytes, *, what: str = "document") -> Any:
    """Parse bytes that must be canonical JSON; anything else is a FormatError.

    Whatever the parse accepts is encoded again and must give back the very same bytes:
    that one comparison rejects whitespace, escapes, key order and duplicate keys (a
    dict keeps one of them, so the encoding comes out shorter)."""
    try:
        data = bytes(untrusted)
        if data.isascii():
            # ASCII keys, integers checked in range and floats refused while parsing: the
            # C encoder's sorted, compact output is then exactly RFC 8785 (for ASCII,
            # code point order is UTF-16 order, and it escapes what 8785 escapes).
            value = json.loads(data.decode("ascii"), parse_float=_no_float,
                               parse_constant=_no_constant, parse_int=_safe_int)
            again = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            same = _same_ascii(again, data)
        else:
            value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                               parse_float=_no_float, parse_constant=_no_constant,
                               parse_int=_safe_int)
            same = canonical(value) == data
    except FormatError as e:
        raise FormatError(f"{what} is not canonical JSON: {e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, RecursionError) as e:
        raise FormatError(f"{what} is not canonical JSON") from e
    if not same:
        raise FormatError(f"{what} is not canonical JSON")
    return value


def _same_ascii(text: str, data: bytes, *, step: int = 1 << 20) -> bool:
    """text == data.decode(), a slice at a time: a 60 MB manifest is not copied whole."""
    if len(text) != len(data):
        return False
    return all(text[i:i + step].encode("utf-8") == data[i:i + step]
               for i in range(0, len(data), step))


def to_hex(data: bytes) -> str:
    return data.hex()


def from_hex(text: Any, *, length: int | None = None, what: str = "value") -> bytes:
    """Lowercase hex to bytes; exactly `length` bytes when given."""
    try:
        data = bytes.fromhex(text)
    except (TypeError, ValueError):
        data = None
    # The round trip refuses what fromhex forgives: upper case and whitespace.
    if data is None or type(text) is not str or data.hex() != text:
        raise FormatError(f"{what} is not lowercase hex")
    if length is not None and len(data) != length:
        raise FormatError(f"{what} must be {length} bytes, not {len(data)}")
    return data


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def read_u16(data: bytes, offset: int) -> int:
    return struct.unpack_from(">H", data, offset)[0]


def read_u32(data: bytes, offset: int) -> int:
    return struct.unpack_from(">I", data, offset)[0]


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019): round up so only O(log log L) bits leak."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1            # floor(log2(L))
    size_bits = exponent.bit_length()              # floor(log2(E)) + 1
    mask = (1 << (exponent - size_bits)) - 1
    return (length + mask) & ~mask


def pad_to_multiple(length: int, multiple: int) -> int:
    return -(-length // multiple) * multiple


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any, *, what: str = "time") -> str:
    """Check a `YYYY-MM-DDTHH:MM:SSZ` string (and that it is a real date)."""
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise FormatError(f"{what} is not a UTC time YYYY-MM-DDTHH:MM:SSZ")
    try:
        datetime.fromisoformat(text[:-1])  # the pattern above fixed the form: this checks the date
    except ValueError as e:
        raise FormatError(f"{what} is not a real date") from e
    return text


def group_fingerprint(hex64: str) -> str:
    """What people read aloud: the first 32 hex digits in groups of 4."""
    short = hex64[:32].upper()
    return " ".join(short[i:i + 4] for i in range(0, 32, 4))
