"""`demo`: the whole story on fictional data runs to the end, and cleans up after itself."""

from __future__ import annotations

import tempfile

from .helpers import CliHome, assert_ok


def test_demo_runs_and_leaves_nothing_behind(cli_home: CliHome, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    r = assert_ok(cli_home.main("demo"))
    assert "Traceback" not in r.output and "FAILED" not in r.stdout
    assert len(r.stdout.splitlines()) > 10
    assert list(private_tmp.iterdir()) == [], "the demo's temporary folder must be removed"
    # The demo never touches the user's own archive.
    assert not cli_home.home.exists() and not cli_home.keys.exists()
