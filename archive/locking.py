"""One process at a time per archive: an advisory lock on HOME/lock.

A second testimony process gets a clear refusal at once rather than interleaving
writes with the first. The lock is released when the process exits, even on SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import LockedError

LOCK_FILE = "lock"


class ArchiveLock:
    def __init__(self, home: Path) -> None:
        self._fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(self._fd)
            raise LockedError(f"the archive {home} is in use by another testimony process",
                              hint="wait for it to finish, then try again") from e

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1
