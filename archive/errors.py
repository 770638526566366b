"""Typed exceptions, each with a message written for the person at the keyboard.

Only cli/main.py catches ArchiveError. Our own bugs raise TypeError, ValueError or
RuntimeError, never an ArchiveError.
"""


class ArchiveError(Exception):
    """Base class: `str(e)` is the fact, `hint` the next step (may be empty)."""

    hint = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class FormatError(ArchiveError):
    """Unparsable, unknown version, not canonical, over a size limit."""


class IntegrityError(ArchiveError):
    """A hash or authentication tag did not match: the bytes were changed."""


class SignatureError(ArchiveError):
    """A signature is bad, missing or made by a key we do not trust."""


class TrustError(ArchiveError):
    """Unknown or revoked peer, or we are not a recipient."""


class RollbackError(ArchiveError):
    """A custody log shrank or forked."""


class KeyAccessError(ArchiveError):
    """Keys missing, locked, or the passphrase is wrong."""


class NotFoundError(ArchiveError):
    """No record, file or archive where one was named."""


class UsageError(ArchiveError):
    """The request itself cannot be carried out (bad value, existing archive...)."""


class LockedError(ArchiveError):
    """Another testimony process holds the archive."""
