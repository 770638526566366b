"""Writing a testimony in $EDITOR without leaving it on disk or in the environment.

The draft lives in a 0600 file in a RAM-backed folder where one exists (/dev/shm), the
editor runs without TESTIMONY_PASSPHRASE in its environment, and afterwards the file is
overwritten with zeros and removed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from .errors import UsageError

RAM_FOLDERS = ("/dev/shm", "/run/user/%d" % os.getuid())


def ram_folder() -> str | None:
    for folder in RAM_FOLDERS:
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None


def edit_text(template: str, *, editor: str | None = None) -> str:
    editor = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError("no text given and $EDITOR is not set",
                         hint="use --text-file FILE, `-` for standard input, or set EDITOR")
    fd, name = tempfile.mkstemp(prefix="testimony-", suffix=".txt", dir=ram_folder())
    path = Path(name)
    try:
        os.write(fd, template.encode("utf-8"))
        os.close(fd)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIMONY_PASSPHRASE")}
        try:
            result = subprocess.run([*shlex.split(editor), name], env=env)
        except OSError as e:
            raise UsageError(f"could not start the editor {editor!r}: {e.strerror}") from e
        if result.returncode != 0:
            raise UsageError(f"the editor exited with status {result.returncode}; nothing recorded")
        try:
            return path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError("the edited text is not valid UTF-8") from e
    finally:
        _shred(path)


def _shred(path: Path) -> None:
    """Overwrite with zeros, then remove (best effort on flash: see SECURITY.md)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(bytes(size))
            f.flush()
            os.fsync(f.fileno())
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)
