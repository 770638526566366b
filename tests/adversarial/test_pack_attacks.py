"""Named attacks on pack files: lengths that claim gigabytes, packs planted in the store,
entries rewritten in place. `check` refuses them by name, allocates nothing they claim,
and nothing planted is ever trusted as a record."""

from __future__ import annotations

import hashlib
import resource
import struct

from archive import constants as C
from archive.store import pack_id_for

from ..cli.helpers import CliHome, assert_error, assert_ok

ONE_GIB = 1 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ONE_GIB, ONE_GIB))


def _plant_pack(h: CliHome, body: bytes, ids: list[bytes]) -> str:
    pack_id = pack_id_for(ids)
    folder = h.home / "packs" / pack_id[:2]
    folder.mkdir(exist_ok=True)
    (folder / pack_id).write_bytes(C.PACK_MAGIC + body)
    return pack_id


def test_pack_entry_length_claims_gigabytes(archive_home: CliHome):
    assert_ok(archive_home.main("record", "--title", "kept"))
    object_id = hashlib.sha256(b"x").digest()
    pack_id = _plant_pack(archive_home, object_id + struct.pack(">I", 0xFFFF_FFFF) + b"x" * 64, [object_id])
    for args in (["check"], ["check", "--read-data"]):
        r = archive_home.run(*args, preexec_fn=_limit_memory)
        assert r.exit_code == 1 and "Traceback" not in r.output and "MemoryError" not in r.output, r
        assert f"PROBLEM  pack {pack_id[:16]} has an entry past its end" in r.stdout
    # The planted pack is never indexed, and the real record is still fine.
    assert pack_id not in {o[1] for o in archive_home.objects()}
    assert len(archive_home.record_ids()) == 1
    assert_ok(archive_home.main("verify"))


def test_pack_entry_length_rewritten_in_place(archive_home: CliHome):
    assert_ok(archive_home.main("record", "--title", "kept"))
    [pack] = archive_home.packs()
    data = bytearray(pack.read_bytes())
    at = len(C.PACK_MAGIC) + 32
    data[at:at + 4] = struct.pack(">I", C.MAX_OBJECT_BYTES + 1)
    pack.write_bytes(bytes(data))
    r = archive_home.run("check", preexec_fn=_limit_memory)
    assert r.exit_code == 1 and f"PROBLEM  pack {pack.name[:16]} has an entry past its end" in r.stdout


def test_planted_pack_with_valid_name_and_foreign_envelope(archive_home: CliHome, tmp_path):
    # A pack from another archive, correctly named, dropped into ours: on open it is
    # indexed (packs are the truth), but its envelope is not addressed to us, so it never
    # becomes a record we show as ours.
    other = CliHome(tmp_path / "other").create("Someone else")
    assert_ok(other.main("record", "--title", "theirs"))
    [foreign] = other.packs()
    folder = archive_home.home / "packs" / foreign.name[:2]
    folder.mkdir(exist_ok=True)
    (folder / foreign.name).write_bytes(foreign.read_bytes())
    assert_ok(archive_home.main("check"))
    rows = assert_ok(archive_home.main("list")).stdout
    assert rows == "no records\n"
    assert_ok(archive_home.main("verify"))


def test_pack_without_magic(archive_home: CliHome):
    object_id = hashlib.sha256(b"y").digest()
    pack_id = pack_id_for([object_id])
    folder = archive_home.home / "packs" / pack_id[:2]
    folder.mkdir()
    (folder / pack_id).write_bytes(b"NOT-A-PACK\n" + object_id + struct.pack(">I", 1) + b"y")
    r = archive_home.main("check")
    assert r.exit_code == 1 and f"pack {pack_id[:16]} does not start with the pack magic" in r.stdout


def test_show_of_unknown_record_in_tampered_archive(archive_home: CliHome):
    assert_error(archive_home.main("show", "a" * 64), "no record id starts with")
