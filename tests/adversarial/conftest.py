"""Fixtures for the named attacks: an archive home driven through the real CLI entry point."""

from __future__ import annotations

import pytest

from ..cli.helpers import CliHome


@pytest.fixture(scope="session")
def attack_template(tmp_path_factory) -> CliHome:
    """One empty archive, created once (interactive KDF); tests get copies of it."""
    return CliHome(tmp_path_factory.mktemp("attack-template")).create()


@pytest.fixture
def archive_home(tmp_path, attack_template) -> CliHome:
    """A fresh, empty archive of this test's own (a copy of the template)."""
    return CliHome(tmp_path / "a").copy_of(attack_template)


@pytest.fixture(autouse=True)
def _derive_each_key_once(monkeypatch):
    """See tests/cli/helpers.unsafe_memoized_argon2id: repeated in-process unlocks cost nothing."""
    import archive.crypto
    from ..cli.helpers import unsafe_memoized_argon2id
    monkeypatch.setattr(archive.crypto, "argon2id", unsafe_memoized_argon2id(archive.crypto.argon2id))
