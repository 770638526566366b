"""Fuzz harness: the identity card and revocation certificate parsers
(`archive.keys.parse_card`, `archive.keys.parse_revocation`, format.md §4–5).

Property: for any input, each parser either returns or raises an ArchiveError subclass;
any other exception, a hang or a memory blow-up is a crash. The input is the file as
given (`peers add CARD`, `peers revoke --certificate FILE`), so there is no mode byte.
What a parser accepts must have one encoding: the card re-encodes to the input (less at
most one trailing LF), and so does the certificate.

    .venv/bin/python -m tests.fuzz.fuzz_card tests/fuzz/corpus/card -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["archive"]):
    from archive.encoding import canonical
    from archive.errors import ArchiveError
    from archive.keys import parse_card, parse_revocation


def TestOneInput(data: bytes) -> None:
    body = data.removesuffix(b"\n")
    try:
        card = parse_card(data)
    except ArchiveError:
        pass
    else:
        assert card.to_bytes() == body
    try:
        revocation = parse_revocation(data)
    except ArchiveError:
        pass
    else:
        assert canonical(revocation) == body


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
