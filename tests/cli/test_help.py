"""Every command, subcommands included, has help text with an example, `--help` works,
and every top-level command appears in README.md (STYLE.md: docs checked by tests)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from cli.main import cli

from .helpers import REPO


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


ALL = list(_commands(cli))
TOP_LEVEL = sorted(cli.commands)


def test_the_commands_of_issue_2_exist():
    names = {" ".join(p) for p, _ in ALL}
    assert {"init", "identity", "identity show", "identity export", "record", "add", "list", "show",
            "search", "extract", "verify", "check", "demo"} <= names


@pytest.mark.parametrize("path, command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"`{' '.join(path)}` has no help text"
    if not isinstance(command, click.Group):
        assert "Example: testimony " + " ".join(path) in command.help, \
            f"`{' '.join(path)}` help has no example"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "help":
            assert (param.help or "").strip(), f"option {param.opts} of `{' '.join(path)}` has no help"
    r = CliRunner().invoke(cli, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Usage: ")
    assert " ".join(command.help.split("\n\n")[0].split()) in " ".join(r.output.split())


def test_every_top_level_command_is_in_the_readme():
    # README.md is written by the lead; this test fails until it tours every command.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in TOP_LEVEL
               if not re.search(rf"`{re.escape(name)}[` ]|testimony {re.escape(name)}\b", readme)]
    assert missing == [], f"commands missing from README.md: {missing}"
