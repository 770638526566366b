"""Passphrase policy: refuse the empty, the short and the very common, saying why."""

from __future__ import annotations

from . import constants as C
from .errors import UsageError

# The most common passwords of public breach lists (lower-cased); a passphrase that
# is one of them, or one of them repeated or with digits appended, falls in seconds.
_COMMON = frozenset("""
123456 123456789 12345678 password qwerty 1234567 12345 1234567890 111111 123123
abc123 password1 iloveyou 000000 qwerty123 1q2w3e4r 654321 dragon monkey letmein
sunshine princess football baseball welcome admin login master shadow trustno1
superman batman passw0rd starwars whatever freedom qazwsx zaq12wsx asdfghjkl
qwertyuiop 1qaz2wsx michael charlie jennifer hunter2 correcthorsebatterystaple
testimony activist changeme secret default
""".split())


def check_passphrase(passphrase: str) -> None:
    """Raise UsageError naming the reason a passphrase is refused."""
    if not passphrase:
        raise UsageError("the passphrase is empty")
    if len(passphrase) < C.MIN_PASSPHRASE_CHARS:
        raise UsageError(
            f"the passphrase has {len(passphrase)} characters; at least "
            f"{C.MIN_PASSPHRASE_CHARS} are needed",
            hint="use several unrelated words, e.g. five words from a dice list")
    folded = passphrase.lower().replace(" ", "")
    stripped = folded.rstrip("0123456789!.?")
    if len(set(folded)) <= 2 or folded in _COMMON or stripped in _COMMON or any(
            folded == word * (len(folded) // len(word)) for word in _COMMON if len(word) <= len(folded) // 2):
        raise UsageError("the passphrase is one of the most common passwords",
                         hint="use several unrelated words, e.g. five words from a dice list")
