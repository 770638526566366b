"""Typed exceptions, each with a message written for the person at the keyboard.

Only cli/main.py catches ArchiveError. Our own bugs raise TypeError, ValueError or
RuntimeError, never an ArchiveError.
"""

import errno


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


class DiskError(ArchiveError):
    """The machine refused: a full, read-only or failing disk, a folder we may not write."""


_FULL = "free some space, then run the command again (`testimony list` shows what is stored)"
_READ_ONLY = ("make the folder writable by you (or the disk mounted read-write), "
              "then run the command again")
_FAILING = "check that the disk is not full and still works, then run the command again"
_OS_ERRORS = {errno.ENOSPC: _FULL, errno.EDQUOT: _FULL, errno.EFBIG: _FULL,
              errno.EROFS: _READ_ONLY, errno.EACCES: _READ_ONLY, errno.EPERM: _READ_ONLY,
              errno.EIO: _FAILING}
# SQLite's primary result codes: FULL, READONLY, CANTOPEN, PERM, IOERR.
_SQLITE_ERRORS = {13: _FULL, 8: _READ_ONLY, 14: _READ_ONLY, 3: _READ_ONLY, 10: _FAILING}
_KEPT = "records committed before this command are kept"


def disk_error(e: BaseException) -> DiskError | None:
    """A DiskError if `e`, or what caused it, is the machine refusing a read or write: an
    OSError, or SQLite's report of one (which the index would otherwise call damage).
    Under one of our own errors only SQLite's counts: ours already explain OSErrors."""
    cause: BaseException | None = e
    while cause is not None:
        code = getattr(cause, "sqlite_errorcode", None)   # sqlite3.Error, Python 3.11+
        if isinstance(code, int) and code & 0xFF in _SQLITE_ERRORS:
            return DiskError(f"{cause} (the index, archive.db); {_KEPT}",
                             hint=_SQLITE_ERRORS[code & 0xFF])
        if (isinstance(cause, OSError) and cause.errno in _OS_ERRORS
                and not isinstance(e, ArchiveError)):
            where = f" ({cause.filename})" if cause.filename else ""
            return DiskError(f"{cause.strerror}{where}; {_KEPT}", hint=_OS_ERRORS[cause.errno])
        cause = cause.__cause__ or cause.__context__
    return None
