"""Fuzzing's findings, kept: every input in tests/fuzz/regressions/<target>/ went through
its harness's property once and crashed it; each must now pass (the parser raises an
ArchiveError, or returns). Each has a named test below with the error it must now give.
And every seed of the corpus is a valid input of its target, as make_corpus.py meant.

These run without libFuzzer: they call the harnesses' TestOneInput directly.
"""

from __future__ import annotations

import importlib
import io
import shutil

import pytest

from archive.bundle import BundleReader
from archive.disclosure import verify_package
from archive.keys import decode_secret_key_file, parse_card, parse_revocation, read_kdf_header
from archive.records import open_envelope
from tests.fuzz import common


def harness(target: str):
    return importlib.import_module(f"tests.fuzz.fuzz_{target}")


def _inputs(folder) -> list:
    return [pytest.param(t, p, id=f"{t}/{p.name}") for t in common.TARGETS
            for p in sorted((folder / t).glob("*")) if p.is_file()]


@pytest.mark.parametrize("target, path", _inputs(common.REGRESSIONS_DIR))
def test_found_input_no_longer_crashes(target, path):
    harness(target).TestOneInput(path.read_bytes())


@pytest.mark.parametrize("target, path", _inputs(common.CORPUS_DIR))
def test_seed_passes_the_property(target, path):
    harness(target).TestOneInput(path.read_bytes())


# --- the seeds are valid inputs ------------------------------------------------------------------

def _seeds(target: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (common.CORPUS_DIR / target).iterdir()}


def test_bundle_seeds_open():
    for name, data in _seeds("bundle").items():
        file, lenient = common.bundle_from_input(data)
        reader = BundleReader(io.BytesIO(file), len(file), common.ARCHIVE.box_secret,
                              harness("bundle").unpinned_key if lenient else harness("bundle").pinned_key)
        assert len(list(reader.objects())) == len(reader.manifest.objects), name


def test_envelope_seeds_open():
    for name, data in _seeds("envelope").items():
        assert open_envelope(common.envelope_from_input(data), common.ARCHIVE.box_secret).record_id, name


def test_card_seeds_parse():
    seeds = _seeds("card")
    assert parse_card(seeds["card-file"]) == common.FIELD.card
    assert parse_card(seeds["card-bare"]) == common.ARCHIVE.card
    assert parse_revocation(seeds["revocation-cert"])["fingerprint"] == common.FIELD.card.fingerprint


def test_secret_key_seeds_decode():
    seeds = _seeds("secret_key")
    with common.remembered_kdf():
        for name in ("key-file", "key-payload"):
            assert decode_secret_key_file(common.keyfile_from_input(seeds[name]),
                                          common.TEST_PASSPHRASE) == common.FIELD, name
    assert read_kdf_header(common.keyfile_from_input(seeds["header-moderate"]))[:2] == (3, 256 << 20)


def test_disclosure_seeds_are_the_package():
    paths = common.package_paths()
    assert verify_package(common.PACKAGE_DIR).ok
    seeds = {common.disclosure_from_input(paths, data) for data in _seeds("disclosure").values()}
    assert seeds == {(p, (common.PACKAGE_DIR / p).read_bytes()) for p in paths}


# --- named findings ------------------------------------------------------------------------------

def _package_with(tmp_path, data: bytes):
    """The package of tests/fuzz/package with one file replaced, as fuzz_disclosure does."""
    path, content = common.disclosure_from_input(common.package_paths(), data)
    folder = tmp_path / "package"
    shutil.copytree(common.PACKAGE_DIR, folder)
    (folder / path).write_bytes(content)
    (folder / "SHA256SUMS").write_bytes(harness("disclosure").sums_with(path, content))
    return folder


def test_long_attachment_path_fails_the_attachments_check(tmp_path):
    """disclosure.json naming `files/` + 256 characters made verify_package raise OSError
    (ENAMETOOLONG, from pathlib's is_file); it is now a failed `attachments` check."""
    data = (common.REGRESSIONS_DIR / "disclosure" / "long-attachment-path").read_bytes()
    report = verify_package(_package_with(tmp_path, data))
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["attachments"]
    assert "is missing or has the wrong size" in report.checks[-1].detail
