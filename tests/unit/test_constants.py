"""archive.constants: every label distinct, and label literals nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

from archive import constants as C

ROOT = Path(__file__).resolve().parents[2]


def _label_constants() -> dict[str, bytes]:
    return {name: value for name, value in vars(C).items()
            if isinstance(value, bytes) and value.startswith(C.LABEL_PREFIX) and name != "LABEL_PREFIX"}


def test_all_labels_are_distinct():
    assert len(set(C.ALL_LABELS)) == len(C.ALL_LABELS)


def test_every_label_constant_is_listed_in_all_labels():
    # A label missing from ALL_LABELS could not be used (crypto refuses it), and one
    # listed twice under two names would merge two purposes.
    labels = {name: v for name, v in _label_constants().items() if v.endswith(b"\0")}
    assert set(labels.values()) == set(C.ALL_LABELS)
    assert len(labels) == len(C.ALL_LABELS)


def test_labels_are_prefix_purpose_nul():
    for label in C.ALL_LABELS:
        assert label.startswith(C.LABEL_PREFIX)
        assert label.endswith(b"\0") and label.count(b"\0") == 1
        purpose = label[len(C.LABEL_PREFIX):-1]
        assert purpose and re.fullmatch(rb"[a-z0-9/_-]+", purpose)


def test_no_label_is_a_prefix_of_another():
    for a in C.ALL_LABELS:
        for b in C.ALL_LABELS:
            if a != b:
                assert not b.startswith(a)


def test_chunk_aad_is_not_a_label():
    # The chunk AAD is fixed data, not a domain-separation prefix: it must not collide
    # with any label a signature or hash starts with.
    assert C.CHUNK_AAD not in C.ALL_LABELS
    assert not C.CHUNK_AAD.endswith(b"\0")


def test_magics_are_distinct_and_end_with_newline():
    magics = [C.ENVELOPE_MAGIC, C.PACK_MAGIC, C.SECRET_KEY_MAGIC]
    assert len(set(magics)) == len(magics)
    for magic in magics:
        assert magic.startswith(b"TESTIMONY-") and magic.endswith(b"\n")
    for a in magics:
        for b in magics:
            if a != b:
                assert not b.startswith(a)


def test_label_literals_appear_only_in_constants():
    offenders = []
    for folder in ("archive", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "archive" / "constants.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "testimony/v1" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_constants_source_is_the_one_place_labels_are_spelled():
    source = (ROOT / "archive" / "constants.py").read_text(encoding="utf-8")
    assert 'LABEL_PREFIX = b"testimony/v1/"' in source


def test_kdf_profiles_are_within_the_reader_bounds():
    assert C.DEFAULT_KDF in C.KDF_PROFILES
    assert "interactive" in C.KDF_PROFILES
    for opslimit, memlimit in C.KDF_PROFILES.values():
        assert C.OPSLIMIT_MIN <= opslimit <= C.OPSLIMIT_MAX
        assert C.MEMLIMIT_MIN <= memlimit <= C.MEMLIMIT_MAX
    assert C.KDF_PROFILES["interactive"] <= C.KDF_PROFILES[C.DEFAULT_KDF] <= C.KDF_PROFILES["sensitive"]


def test_size_limits_are_consistent():
    assert C.ENVELOPE_MIN_STANZAS % 4 == 0 and C.ENVELOPE_MAX_STANZAS % 4 == 0
    assert 0 < C.ENVELOPE_MIN_STANZAS <= C.ENVELOPE_MAX_STANZAS
    assert C.SEALED_BOX_BYTES == 32 + C.KEY_BYTES + 16
    assert C.CHUNK_SIZE == 1024 * 1024
    # A chunk object (plaintext + GCM tag) must fit the per-object limit.
    assert C.CHUNK_SIZE + C.GCM_TAG_BYTES <= C.MAX_OBJECT_BYTES
    assert C.MAX_OBJECT_BYTES <= C.MAX_ENVELOPE_BYTES
    assert C.MIN_ID_PREFIX >= 8
    assert C.MIN_PASSPHRASE_CHARS >= 12


def test_field_names_and_levels():
    assert C.ATTACHMENT_FIELD not in C.FIELD_NAMES
    assert len(set(C.FIELD_NAMES)) == len(C.FIELD_NAMES)
    assert C.CONSENT_LEVELS == ("internal", "legal", "public")
    assert set(C.RECORD_KINDS) == {"testimony", "evidence"}
