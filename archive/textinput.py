"""The header block a testimony's text may begin with, so nothing sensitive needs argv.

    title: Refused at the district hospital
    tags: hospital-refusal, almaty
    witness: W-17
    consent: legal
    location: Almaty
    language: ru
    ---
    The body, kept byte for byte.

A header is recognised only when the first line is a known `key:` line and a `---`
line follows; then every line up to `---` must be a known key, so a typo is an error
rather than a witness pseudonym silently left in the body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UsageError

HEADER_KEYS = ("title", "tags", "witness", "consent", "location", "language")
SEPARATOR = "---"

TEMPLATE = """title: 
tags: 
witness: 
consent: internal
location: 
---
Write the testimony below the line. Lines above it are the header: leave a value
empty to omit it. Consent is internal, legal or public.
"""


@dataclass
class ParsedText:
    header: dict[str, str] = field(default_factory=dict)
    body: str = ""


def _header_key(line: str) -> str | None:
    key, sep, _ = line.partition(":")
    return key.strip().lower() if sep and key.strip().lower() in HEADER_KEYS else None


def parse_text(text: str) -> ParsedText:
    lines = text.split("\n")
    if not lines or _header_key(lines[0]) is None or SEPARATOR not in (l.rstrip("\r") for l in lines):
        return ParsedText({}, text)
    header: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if line == SEPARATOR:
            return ParsedText(header, "\n".join(lines[number:]))
        key = _header_key(line)
        if key is None:
            raise UsageError(f"line {number} of the text header is not one of "
                             f"{', '.join(HEADER_KEYS)}",
                             hint="end the header with a line `---`, or remove it")
        if key in header:
            raise UsageError(f"the text header gives {key!r} twice")
        value = line.partition(":")[2].strip()
        if value:
            header[key] = value
    raise AssertionError("unreachable: the separator is present")


def split_tags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]
