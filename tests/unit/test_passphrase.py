"""archive.passphrase: the policy refuses empty, short and common passphrases, saying why."""

from __future__ import annotations

import pytest

from archive import constants as C
from archive.errors import UsageError
from archive.passphrase import check_passphrase


@pytest.mark.parametrize("passphrase", [
    "correct staple violet harbour 1947",
    "lantern orbit meadow",
    "Stürme über dem Ödland",
    "пароль-для-архива",             # non-ASCII
    "my dog ate 17 oranges",
])
def test_acceptable_passphrases(passphrase):
    check_passphrase(passphrase)


def test_empty_is_refused():
    with pytest.raises(UsageError, match="empty"):
        check_passphrase("")


@pytest.mark.parametrize("length", [1, 5, C.MIN_PASSPHRASE_CHARS - 1])
def test_short_is_refused_with_the_count(length):
    with pytest.raises(UsageError, match=f"has {length} characters") as e:
        check_passphrase("tqmzhvkwrbxa"[:length])
    assert e.value.hint


def test_minimum_length_is_accepted():
    check_passphrase("tqmzhvkwrbxa"[:C.MIN_PASSPHRASE_CHARS])


@pytest.mark.parametrize("passphrase", [
    "password1234",                  # common word with digits appended
    "Password1234!",                 # case and punctuation do not help
    "correcthorsebatterystaple",
    "correct horse battery staple",  # spaces are folded
    "qwertyuiop12",
    "passwordpassword",              # a common word repeated
    "monkeymonkeymonkey",
    "123456123456",
    "aaaaaaaaaaaaaaaa",              # one or two distinct characters
    "abababababab",
    "testimony2024",
    "changeme!!!!!",
])
def test_common_passphrases_are_refused(passphrase):
    with pytest.raises(UsageError, match="common") as e:
        check_passphrase(passphrase)
    assert e.value.hint


def test_common_word_inside_a_longer_phrase_is_fine():
    check_passphrase("password of the old lighthouse keeper")
