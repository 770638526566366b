"""A first end-to-end pass through the command line, as a new user would."""

from __future__ import annotations


def test_init_record_list_show_verify(run, initialised, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("title: Clinic refusal\nwitness: W-3\nconsent: legal\n---\nThey said no.\n")
    r = run("record", "--text-file", str(text))
    assert r.exit_code == 0, r.output
    rid = r.stdout.strip()
    assert len(rid) == 64
    r = run("list")
    assert "Clinic refusal" in r.stdout
    r = run("show", rid[:10])
    assert "They said no." in r.stdout and "W-3" in r.stdout
    r = run("verify")
    assert r.exit_code == 0 and "1 of 1 records verified" in r.stdout
