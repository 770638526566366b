"""Durable file writes: temp file in the same folder → fsync → rename → fsync folder.

A crash at any point leaves either the old file or the new one, never half of one.
Also: the one sanitiser for file names taken from records (`extract`, `disclose`).
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, exclusive: bool = False) -> None:
    """Write `data` to `path` atomically. With `exclusive`, never replace an existing file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            # link() fails if the target exists: no window where a key is overwritten.
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def safe_file_name(name: str) -> str:
    """A stored attachment name made safe to create inside a folder: no separators,
    no `.`/`..`, no control characters, at most 200 bytes."""
    base = "".join("_" if (c in "/\\" or ord(c) < 32 or c == "\x7f") else c for c in name)
    base = base.lstrip(".") or "attachment"
    while len(base.encode("utf-8")) > 200:
        base = base[:-1]
    return base
