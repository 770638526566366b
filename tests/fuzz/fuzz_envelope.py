"""Fuzz harness: the envelope opener (`archive.records.open_envelope`, format.md §7–8).

Property: for any input, opening the envelope with a fixed box secret (ARCHIVE's) either
returns an OpenedRecord or raises an ArchiveError subclass; any other exception, a hang or
a memory blow-up is a crash. An envelope that opens must also be self-consistent: its
record id is that of its statement bytes, which re-encode to themselves. What an input
means (raw envelope, payload sealed here, or body framed and sealed here) is in
tests/fuzz/common.py.

    .venv/bin/python -m tests.fuzz.fuzz_envelope tests/fuzz/corpus/envelope -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["archive"]):
    from archive.encoding import canonical
    from archive.errors import ArchiveError
    from archive.records import open_envelope, record_id
    from tests.fuzz import common


def TestOneInput(data: bytes) -> None:
    envelope = common.envelope_from_input(data)
    if envelope is None:
        return
    try:
        opened = open_envelope(envelope, common.ARCHIVE.box_secret)
    except ArchiveError:
        return
    assert canonical(opened.statement) == opened.statement_bytes
    assert opened.record_id == record_id(opened.statement_bytes)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
