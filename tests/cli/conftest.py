"""CLI helpers: run `testimony` in-process (CliRunner) or as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

from ..conftest import TEST_KDF
from .helpers import Result


@pytest.fixture
def run(cli_env):
    """run(*args, input=None) → Result, as a real subprocess of `python -m cli`."""
    def _run(*args: str, input: bytes | str | None = None, env: dict | None = None) -> Result:
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run([sys.executable, "-m", "cli", *args], input=data, capture_output=True,
                           env=env or cli_env, timeout=120)
        return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))
    return _run


@pytest.fixture
def invoke(cli_env):
    """invoke(*args) through click's CliRunner (fast, in-process; no main() error wrapper)."""
    runner = CliRunner()

    def _invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    return _invoke


@pytest.fixture
def initialised(run) -> None:
    r = run("init", "--name", "CLI test team", "--kdf", TEST_KDF)
    assert r.exit_code == 0, r.output


@pytest.fixture
def cli_home(tmp_path):
    """A CliHome (archive home + keys + environment) not yet initialised."""
    from .helpers import CliHome
    return CliHome(tmp_path / "a")


@pytest.fixture(scope="session")
def archive_template(tmp_path_factory):
    """One empty archive, created once (interactive KDF); tests get copies of it."""
    from .helpers import CliHome
    return CliHome(tmp_path_factory.mktemp("template")).create()


@pytest.fixture
def archive_home(cli_home, archive_template):
    """A CliHome holding a fresh, empty archive of its own (a copy of the template)."""
    return cli_home.copy_of(archive_template)


@pytest.fixture(autouse=True)
def _derive_each_key_once(monkeypatch):
    """See helpers.unsafe_memoized_argon2id: repeated in-process unlocks cost nothing."""
    import archive.crypto
    from .helpers import unsafe_memoized_argon2id
    monkeypatch.setattr(archive.crypto, "argon2id", unsafe_memoized_argon2id(archive.crypto.argon2id))
