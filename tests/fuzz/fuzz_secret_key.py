"""Fuzz harness: the secret key file parser (`archive.keys.read_kdf_header` and
`archive.keys.decode_secret_key_file`, format.md §6).

Property: for any input, the parser either returns or raises an ArchiveError subclass;
any other exception, a hang or a memory blow-up is a crash.

Argon2id makes each derivation slow on purpose (~0.1 s and 64 MiB even with the
`interactive` profile), far too slow to fuzz. So every input goes through the header and
bounds checks that run BEFORE any derivation (`read_kdf_header`: length, magic,
opslimit and memlimit bounds) — a hostile file must be refused there without allocating
or spinning — and only an input whose header is exactly the fixed test header
(interactive costs, fixed salt) goes on to derivation, decryption and the payload's
card, with that one derivation made once and remembered (common.remembered_kdf). Mode 1
seals the fuzzer's payload under that header, so the parsing after decryption is fuzzed
too. A file that decodes must re-encode to a file that decodes to the same keys (not
always to the same bytes: the card inside may end with one LF, which §6 tolerates and
the writer does not write). Details: tests/fuzz/common.py.

    .venv/bin/python -m tests.fuzz.fuzz_secret_key tests/fuzz/corpus/secret_key -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["archive"]):
    from archive import constants as C
    from archive.errors import ArchiveError
    from archive.keys import decode_secret_key_file, encode_secret_key_file, read_kdf_header
    from tests.fuzz import common

FIXED = (common.KEYFILE_OPSLIMIT, common.KEYFILE_MEMLIMIT, common.KEYFILE_SALT)


def TestOneInput(data: bytes) -> None:
    blob = common.keyfile_from_input(data)
    if blob is None:
        return
    try:
        header = read_kdf_header(blob)
    except ArchiveError:
        return
    if header != FIXED:
        return  # valid bounds, another salt or cost: stop before deriving (see above)
    with common.remembered_kdf():
        try:
            keys = decode_secret_key_file(blob, common.TEST_PASSPHRASE)
        except ArchiveError:
            return
        at = len(common.KEYFILE_HEADER)
        again = encode_secret_key_file(keys, common.TEST_PASSPHRASE, opslimit=header[0],
                                       memlimit=header[1], salt=header[2],
                                       nonce=blob[at:at + C.XCHACHA_NONCE_BYTES])
        assert decode_secret_key_file(again, common.TEST_PASSPHRASE) == keys


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
