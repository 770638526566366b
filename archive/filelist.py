"""The files an `add` will read: listed, and checked readable, before anything is written."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import NotFoundError, UsageError


@dataclass(frozen=True)
class FileTask:
    path: Path
    name: str          # what the record calls it: relative to the folder given
    size: int


def display_name(path: str) -> str:
    """A file name as valid Unicode: undecodable bytes are shown as \\xNN escapes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def collect_files(paths: Iterable[Path]) -> list[FileTask]:
    """Every regular file under `paths`, checked readable before anything is written.

    Symlinked folders are not followed (no loops); a symlink to a file is read.
    """
    tasks: list[FileTask] = []
    for given in paths:
        try:
            info = os.stat(given)
        except FileNotFoundError as e:
            raise NotFoundError(f"{display_name(str(given))}: no such file or folder") from e
        except OSError as e:
            raise UsageError(f"{display_name(str(given))}: {e.strerror}") from e
        if stat.S_ISDIR(info.st_mode):
            tasks.extend(_walk(Path(given)))
        elif stat.S_ISREG(info.st_mode):
            tasks.append(_task(Path(given), Path(given).name))
        else:
            raise UsageError(f"{display_name(str(given))}: not a regular file or folder")
    return tasks


def _walk(root: Path) -> Iterator[FileTask]:
    def fail(error: OSError) -> None:
        raise UsageError(f"{display_name(str(error.filename))}: {error.strerror}")

    for folder, dirs, files in os.walk(root, onerror=fail, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            try:
                info = os.stat(path)
            except OSError as e:
                raise UsageError(f"{display_name(str(path))}: {e.strerror}") from e
            if stat.S_ISREG(info.st_mode):
                yield _task(path, str(path.relative_to(root.parent)))


def _task(path: Path, name: str) -> FileTask:
    try:
        with open(path, "rb"):
            pass
        size = os.stat(path).st_size
    except OSError as e:
        raise UsageError(f"{display_name(str(path))}: {e.strerror}") from e
    return FileTask(path, display_name(name), size)
