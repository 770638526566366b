"""Shared fixtures. Every test archive uses the `interactive` KDF profile, chosen here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive.api import Archive

TEST_PASSPHRASE = "correct staple violet harbour 1947"
TEST_KDF = "interactive"


@pytest.fixture
def passphrase() -> str:
    return TEST_PASSPHRASE


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    """(archive home, keys folder) in a temporary folder, not yet created."""
    return tmp_path / "home", tmp_path / "keys"


@pytest.fixture
def archive(homes: tuple[Path, Path]):
    """A fresh, unlocked archive with a new identity (interactive KDF)."""
    home, keys = homes
    a = Archive.create(home, keys, name="Test field team", passphrase=TEST_PASSPHRASE, kdf=TEST_KDF)
    yield a
    a.close()


@pytest.fixture
def cli_env(homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs: temp home and keys, the test passphrase, no editor."""
    home, keys = homes
    env = {"TESTIMONY_HOME": str(home), "TESTIMONY_KEYS": str(keys),
           "TESTIMONY_PASSPHRASE": TEST_PASSPHRASE}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    return {**os.environ, **env}
