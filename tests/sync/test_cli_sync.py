"""`peers`, `bundle` and `custody` as real `python -m cli` processes: exact exit codes,
one `Error:` line and no traceback on failure, key output lines, valid `--json`.
Archives are set up through the library (faster); every command under test runs as a
subprocess."""

from __future__ import annotations

import json

from archive.encoding import group_fingerprint

from .conftest import assert_error, assert_ok


def test_cli_peers_add_list_default_revoke(world):
    law, field = world["lawyer"], world["field"]
    fp = field.fingerprint
    card = str(field.card_path)

    r = law.run("peers", "add", card, "--name", "Field team", "--role", "field",
                "--fingerprint", group_fingerprint(world["courier"].fingerprint))
    assert_error(r, "does not match", "nothing was pinned")
    assert r.stdout == ""
    listed = json.loads(assert_ok(law.run("peers", "list", "--json")).stdout)
    assert [p["name"] for p in listed["peers"]] == ["archive"] and listed["default_recipients"] == []

    r = assert_ok(law.run("peers", "add", card, "--name", "Field team", "--role", "field",
                          "--fingerprint", group_fingerprint(fp).lower()))
    assert r.stdout == f"Pinned Field team (field), key {group_fingerprint(fp)}\n"

    spaced64 = " ".join(fp[i:i + 4] for i in range(0, 64, 4))
    assert_error(law.run("peers", "add", card, "--name", "Again", "--role", "field",
                         "--fingerprint", spaced64), "already pinned as 'Field team'")
    assert_error(law.run("peers", "add", str(law.card_path), "--name", "Me", "--role", "lawyer",
                         "--fingerprint", law.fingerprint), "own identity")

    assert assert_ok(law.run("peers", "default", "Field team")).stdout == "default recipients: Field team\n"
    out = assert_ok(law.run("peers", "list")).stdout.splitlines()
    row = next(line for line in out if line.startswith("Field team"))
    assert row.split()[:3] == ["Field", "team", "field"] and group_fingerprint(fp) in row and "pinned 20" in row
    assert out[-1] == "default recipients: Field team"

    r = assert_ok(law.run("peers", "revoke", "Field team"))
    assert r.stdout.startswith("Revoked Field team as of ") and r.stdout.endswith(
        "; it will never be trusted again here\n")
    listed = json.loads(assert_ok(law.run("peers", "list", "--json")).stdout)
    field_row = next(p for p in listed["peers"] if p["name"] == "Field team")
    assert field_row["fingerprint"] == fp and field_row["revoked"] and field_row["revoked_by"] == law.fingerprint
    assert field_row["role"] == "field" and field_row["card_name"] == "field site"
    assert_error(law.run("peers", "revoke", "Field team"), "already revoked")
    assert_error(law.run("peers", "revoke", "Nobody"), "no peer named 'Nobody'")
    r = law.run("peers", "revoke")
    assert r.exit_code == 2 and "Traceback" not in r.stderr


def test_cli_bundle_export_inspect_import_custody(world):
    field, courier, archive = world["field"], world["courier"], world["archive"]
    with field.open() as f:
        rid = f.record(fields={"title": "Through the courier"}, to=["archive"])
    to_courier, to_archive = world.root / "to-courier.tmy", world.root / "to-archive.tmy"

    r = assert_ok(field.run("bundle", "export", "--to", "courier", "--out", str(to_courier)))
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"wrote {to_courier}: 1 objects, ") and lines[0].endswith(" MB")
    assert lines[1].startswith("1 objects (") and lines[1].endswith("and 0 acknowledgements for courier")
    assert_error(field.run("bundle", "export", "--to", "courier", "--out", str(to_courier)), "already exists")
    assert_error(field.run("bundle", "export", "--to", "nobody", "--out", str(world.root / "x.tmy")),
                 "no peer named 'nobody'")

    out = assert_ok(courier.run("bundle", "inspect", str(to_courier))).stdout
    assert "Sender:     'field site' (the sender's claim), key " + field.fingerprint[:32] in out
    assert "Signature:  valid" in out and "Intact:     yes" in out
    assert "Recipients: this archive" in out and "Objects:    1 (1 records)" in out
    info = json.loads(assert_ok(courier.run("bundle", "inspect", str(to_courier), "--json")).stdout)
    assert info["signature_ok"] is True and info["intact"] is True and info["objects"] == 1

    [imported] = json.loads(assert_ok(courier.run("bundle", "import", str(to_courier), "--json")).stdout)
    assert (imported["new_objects"], imported["new_records"], imported["relay_only"]) == (1, 0, 1)
    assert imported["path"] == str(to_courier) and imported["already_imported"] is False
    r = assert_ok(courier.run("bundle", "import", str(to_courier)))
    assert r.stdout == f"{to_courier}: already imported; nothing changed\n"

    assert_ok(courier.run("bundle", "export", "--to", "archive", "--out", str(to_archive)))
    assert_error(archive.run("bundle", "import", str(to_courier)), "not addressed to us")
    r = assert_ok(archive.run("bundle", "import", str(to_archive)))
    assert r.stdout.startswith(f"{to_archive}: from courier (courier), pinned 20")
    assert r.stdout.splitlines()[0].endswith(
        ": 1 new objects, 0 already held, 1 new records, 0 kept to relay on (not readable here)")

    out = assert_ok(archive.run("custody", rid[:12])).stdout.splitlines()
    assert out[0] == f"Record {rid}" and out[-1] == "5 custody events"
    assert [line.split()[1] for line in out[1:-1]] == ["recorded", "exported", "imported", "exported", "imported"]
    assert all("signature valid; in its log at #" in line for line in out[1:-1])
    assert "→ courier (courier)" in out[2] and "by this archive's own key" in out[5]
    chain = json.loads(assert_ok(archive.run("custody", rid, "--json")).stdout)
    assert chain["id"] == rid and [e["event"] for e in chain["events"]][0] == "recorded"
    assert all(e["signature_valid"] for e in chain["events"]) and len(chain["events"]) == 5
    assert_error(archive.run("custody", "deadbeef00"), "no record id starts with deadbeef00")


def test_cli_bad_bundles_one_error_line(world):
    field, archive = world["field"], world["archive"]
    with field.open() as f:
        f.record(fields={"title": "x"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "b.tmy")
    data = bytearray((world.root / "b.tmy").read_bytes())
    data[len(data) // 2] ^= 0x10
    (world.root / "flipped.tmy").write_bytes(bytes(data))
    (world.root / "short.tmy").write_bytes(bytes(data[:-1]))
    before = archive.state()
    assert_error(archive.run("bundle", "import", str(world.root / "flipped.tmy")), "failed authentication")
    assert_error(archive.run("bundle", "import", str(world.root / "short.tmy")), "truncated")
    assert_error(archive.run("bundle", "import", str(world.root / "missing.tmy")), "no such file")
    assert_error(archive.run("bundle", "inspect", str(world.root / "short.tmy")))
    assert archive.state() == before
    assert_ok(archive.run("peers", "revoke", "field"))
    before = archive.state()
    assert_error(archive.run("bundle", "import", str(world.root / "b.tmy")), "'field' was revoked on")
    assert archive.state() == before


def test_cli_revocation_certificate(world):
    field, archive = world["field"], world["archive"]
    with field.open() as f:
        f.record(fields={"title": "x"}, to=["archive"])
        f.export_bundle(["archive"], world.root / "b.tmy")
    r = assert_ok(archive.run("peers", "revoke", "--certificate", str(field.revocation_cert)))
    assert r.stdout.startswith(f"Revocation of key {group_fingerprint(field.fingerprint)} (dated 20")
    assert r.stdout.endswith("applied; it travels in later bundles\n")
    assert "REVOKED" in assert_ok(archive.run("peers", "list")).stdout
    assert_error(archive.run("bundle", "import", str(world.root / "b.tmy")), "'field' was revoked on")
    (world.root / "junk.cert").write_bytes(b'{"type":"testimony/revocation"}\n')
    assert_error(archive.run("peers", "revoke", "--certificate", str(world.root / "junk.cert")))
