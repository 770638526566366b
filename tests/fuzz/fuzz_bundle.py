"""Fuzz harness: the bundle reader (`archive.bundle.BundleReader`, format.md §17–18).

Property: for any input, opening the bundle and reading every object either succeeds or
raises an ArchiveError subclass (archive/errors.py). Any other exception (IndexError,
KeyError, UnicodeError, struct.error, RecursionError, MemoryError…), a hang or a memory
blow-up is a crash. What an input means (raw file, plaintext frames sealed here, or a
manifest signed here) is in tests/fuzz/common.py.

    .venv/bin/python -m tests.fuzz.fuzz_bundle tests/fuzz/corpus/bundle -max_total_time=60
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports(include=["archive"]):
    from archive.bundle import BundleReader
    from archive.errors import ArchiveError, TrustError
    from tests.fuzz import common

SENDER_FINGERPRINT = common.FIELD.card.fingerprint


def pinned_key(fingerprint: str) -> bytes:
    """As an import looks senders up: FIELD is the one pinned peer."""
    if fingerprint != SENDER_FINGERPRINT:
        raise TrustError("the bundle's sender is not a pinned peer")
    return common.FIELD.card.sign_key


def unpinned_key(fingerprint: str) -> None:
    """As `bundle inspect` looks up an unknown sender: the manifest's own card is used."""
    return None


def TestOneInput(data: bytes) -> None:
    made = common.bundle_from_input(data)
    if made is None:
        return
    file, lenient = made
    try:
        reader = BundleReader(io.BytesIO(file), len(file), common.ARCHIVE.box_secret,
                              unpinned_key if lenient else pinned_key)
        for _ in reader.objects():
            pass
    except ArchiveError:
        return


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
