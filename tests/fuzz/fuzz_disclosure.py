"""Fuzz harness: the disclosure verifier (`archive.disclosure.verify_package`, format.md §24.7).

A package is a folder, so the input is one file of it: the first byte chooses which file
of the valid package in tests/fuzz/package/ (in sorted path order) and the rest replaces
its content; SHA256SUMS is rewritten to match (unless it is the file chosen), so that
the input gets past the `files` check to the parsers behind it (tests/fuzz/common.py).

Property: for any input, verify_package returns a report (whose verdict and JSON render)
or raises an ArchiveError subclass; any other exception, a hang or a memory blow-up is a
crash. And a package whose statement.json or attached file was changed never verifies.

The package is copied once into a working folder, changed and restored for each input.
The folder is made under $TESTIMONY_FUZZ_TMP (tests/fuzz/run.py sets it, and removes it
afterwards) or the system's temporary folder, and named after the process: libFuzzer
exits without running Python's exit handlers, so the next run removes what is left.

    .venv/bin/python -m tests.fuzz.fuzz_disclosure tests/fuzz/corpus/disclosure -max_total_time=60
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["archive"]):
    from archive.disclosure import FILES, STATEMENT, SUMS, DisclosureReport, verify_package
    from archive.errors import ArchiveError
    from tests.fuzz import common

PATHS = common.package_paths()
ORIGINAL = {path: (common.PACKAGE_DIR / path).read_bytes() for path in PATHS}
DIGESTS = {path: hashlib.sha256(data).hexdigest() for path, data in ORIGINAL.items()}
_WORK_PREFIX = "testimony-fuzz-disclosure-"


def _work_folder() -> Path:
    """A folder named after this process; those left by earlier runs, whose process is
    gone, are removed first (libFuzzer exits without running Python's exit handlers)."""
    parent = Path(os.environ.get("TESTIMONY_FUZZ_TMP") or tempfile.gettempdir())
    for old in parent.glob(f"{_WORK_PREFIX}*"):
        pid = old.name[len(_WORK_PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    work = parent / f"{_WORK_PREFIX}{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    atexit.register(shutil.rmtree, work, True)   # runs when imported by pytest
    return work


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_work = _work_folder()
PACKAGE = _work / "package"
shutil.copytree(common.PACKAGE_DIR, PACKAGE)
if not verify_package(PACKAGE).ok:
    raise RuntimeError("tests/fuzz/package does not verify: run `python -m tests.fuzz.make_corpus`")


def sums_with(path: str, content: bytes) -> bytes:
    """SHA256SUMS of the package with `path` holding `content` (format.md §24.5)."""
    digests = {**DIGESTS, path: hashlib.sha256(content).hexdigest()}
    return "".join(f"{digests[p]}  {p}\n" for p in PATHS if p != SUMS).encode()


def TestOneInput(data: bytes) -> None:
    chosen = common.disclosure_from_input(PATHS, data)
    if chosen is None:
        return
    path, content = chosen
    (PACKAGE / path).write_bytes(content)
    if path != SUMS:
        (PACKAGE / SUMS).write_bytes(sums_with(path, content))
    try:
        try:
            report = verify_package(PACKAGE)
        except ArchiveError:
            return
        assert isinstance(report, DisclosureReport)
        report.verdict()
        json.dumps(report.to_json())
        if report.ok and (path == STATEMENT or path.startswith(f"{FILES}/")):
            assert content == ORIGINAL[path], f"a changed {path} verified"
    finally:
        (PACKAGE / path).write_bytes(ORIGINAL[path])
        (PACKAGE / SUMS).write_bytes(ORIGINAL[SUMS])


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
