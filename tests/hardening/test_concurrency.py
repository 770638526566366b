"""Two processes on one archive (issue 6): two `add`s, `add` during `bundle import`,
`record` during `add`. archive/locking.py lets one testimony process at a time hold an
archive: the other must either run before or after it (both succeed) or be refused at
once — exit 1, one `Error:` line about the lock, nothing written. Either way no record
is lost, the archive checks out, and the refused command, run again, completes.

Each pair runs once with the first command held mid-write (at its first write into the
archive, holding the lock) while the second starts — the second must be refused — and
REPEATS times started together, in two real processes at once, where either outcome is
right. The outcomes are printed (`pytest -s`) for SECURITY.md's table.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from .harness import Result, Site, assert_ok, assert_one_error, checked_contents

REPEATS = 3
LOCKED = "is in use by another testimony process"


@pytest.fixture(scope="module")
def scene(world, tmp_path_factory):
    """A bundle from field to archive; a second folder of evidence."""
    root = tmp_path_factory.mktemp("concurrency")
    sender = world.field.clone(root / "sender")
    with sender.open() as a:
        a.export_bundle(["archive"], root / "from-field.tmy")
    more = root / "more"
    more.mkdir()
    for i in range(3):
        (more / f"m{i}.jpg").write_bytes(os.urandom(900_000 + i))
    with world.field.open() as a:
        field_records = {r.record_id for r in a.list_records()}
    return {"bundle": root / "from-field.tmy", "more": more, "field_records": field_records}


def _commands(world, scene) -> dict:
    i = world.inputs
    return {
        "add": (["add", i / "clinic"], {"clinic/01-video.mp4", "clinic/02-photo.jpg", "clinic/04-note.txt",
                                         "clinic/05-scan.png"}),
        "add-more": (["add", scene["more"]], {"more/m0.jpg", "more/m1.jpg", "more/m2.jpg"}),
        "record": (["record", "--text-file", i / "statement.txt", "--attach", i / "door.jpg"],
                   {"Beaten at the station"}),
        "import": (["bundle", "import", scene["bundle"]], None),   # field's records, by id
    }


PAIRS = {   # (first, second, the site they share)
    "add + add": ("add", "add-more", "field"),
    "add during bundle import": ("import", "add", "archive"),
    "record during add": ("add", "record", "field"),
}


def _present(site_now: dict, name: str, expect, scene) -> bool:
    if expect is None:   # an import: every record of the bundle is here
        return scene["field_records"] <= set(site_now)
    titles = Counter(v[1] for v in site_now.values())
    return all(titles[t] >= 1 for t in expect)


def _judge(site: Site, before: dict, results: dict[str, Result], commands: dict, scene, server) -> str:
    """Each run succeeded or was refused cleanly; nothing lost; the refused one completes
    when run again. Return the outcome, e.g. "both ran" or "second refused"."""
    refused = []
    for name, r in results.items():
        if r.exit_code == 0:
            continue
        assert_one_error(r, LOCKED)
        assert "Hint: wait for it to finish, then try again" in r.stderr, r
        refused.append(name)
    assert len(refused) < 2, "both were refused"
    now = checked_contents(site)
    assert {k: now.get(k) for k in before} == before, "an earlier record changed"
    for name in results:
        argv, expect = commands[name]
        assert _present(now, name, expect, scene) == (name not in refused), name
    for name in refused:   # it wrote nothing; now it runs
        assert_ok(server.run(commands[name][0], env=site.env, roots=[]))
    final = checked_contents(site)
    for name in results:
        assert _present(final, name, commands[name][1], scene), name
    assert {k: final.get(k) for k in before} == before
    if not refused:
        return "both ran"
    return f"{'first' if refused[0] == list(results)[0] else 'second'} refused"


@pytest.mark.parametrize("pair", list(PAIRS))
def test_two_processes_on_one_archive(pair, world, scene, servers, tmp_path):
    first, second, where = PAIRS[pair]
    template = getattr(world, where)
    commands = _commands(world, scene)
    for server in servers:
        server.warm(template)
    before = checked_contents(template)
    outcomes = []

    # The second starts while the first holds the lock, mid-write: refused, at once.
    site = template.clone(tmp_path / "held")
    flag, release = tmp_path / "stalled", tmp_path / "release"
    results: dict[str, Result] = {}

    def run_first() -> None:
        results[first] = servers[0].run(commands[first][0], env=site.env, roots=[site.home],
                                        kinds=["write"], at=1, action="stall", stall=(flag, release))

    holder = threading.Thread(target=run_first)
    holder.start()
    deadline = time.monotonic() + 60
    while not flag.exists() and holder.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert flag.exists(), results
    started = time.monotonic()
    results[second] = servers[1].run(commands[second][0], env=site.env, roots=[])
    assert time.monotonic() - started < 20   # refused at once, not after waiting
    release.touch()
    holder.join(timeout=120)
    assert results[second].exit_code == 1 and LOCKED in results[second].stderr, results[second]
    assert results[first].exit_code == 0, results[first]
    outcomes.append(_judge(site, before, {first: results[first], second: results[second]},
                           commands, scene, servers[0]))
    assert outcomes == ["second refused"]

    # Started together, REPEATS times: either order is right, or one is refused.
    for n in range(REPEATS):
        site = template.clone(tmp_path / f"together-{n}")
        results = {}
        go = threading.Barrier(2)

        def run(name: str, server) -> None:
            go.wait()
            results[name] = server.run(commands[name][0], env=site.env, roots=[])

        threads = [threading.Thread(target=run, args=(first, servers[0])),
                   threading.Thread(target=run, args=(second, servers[1]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        outcomes.append(_judge(site, before, {first: results[first], second: results[second]},
                               commands, scene, servers[0]))
    print(f"\n{pair}: {1 + REPEATS} runs, {dict(Counter(outcomes))}")
