"""Options shared by several commands, defined once so every command spells them alike."""

from __future__ import annotations

import functools
import getpass
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from archive.api import Archive, default_home
from archive.errors import KeyAccessError, UsageError

PASSPHRASE_ENV = "TESTIMONY_PASSPHRASE"


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print stable JSON (see docs/format.md).")(f)


def passphrase_file_option(f: Callable) -> Callable:
    return click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                        help="Read the passphrase from this file's first line "
                             f"(or set {PASSPHRASE_ENV}, weaker: see SECURITY.md).")(f)


def homes(ctx: click.Context) -> tuple[Path, Path]:
    home = ctx.obj["home"] or default_home()
    return Path(home), Path(ctx.obj["keys"] or Path(home) / "keys")


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    """From --passphrase-file, then TESTIMONY_PASSPHRASE, then a hidden prompt on the terminal."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read the passphrase file {passphrase_file}") from e
        return text.split("\n", 1)[0].rstrip("\r")
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    try:
        # Without a terminal getpass would warn and read the passphrase, echoed, from
        # standard input (which `record --text-file -` needs for the text): refuse instead.
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        first = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Passphrase (again): ") != first:
            raise UsageError("the two passphrases differ; nothing was created")
    except (EOFError, OSError) as e:
        raise KeyAccessError("no passphrase given and no terminal to ask on",
                             hint=f"use --passphrase-file or set {PASSPHRASE_ENV}") from e
    return first


def open_archive(ctx: click.Context, *, unlock: bool, passphrase_file: Path | None = None) -> Archive:
    home, keys = homes(ctx)
    archive = Archive(home, keys)
    ctx.call_on_close(archive.close)
    if unlock:
        try:
            archive.unlock(read_passphrase(passphrase_file))
        except BaseException:
            archive.close()
            raise
    return archive


def pass_archive(f: Callable) -> Callable:
    """Open the archive (no passphrase needed) and pass it as the first argument."""
    @click.pass_context
    @functools.wraps(f)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return f(open_archive(ctx, unlock=False), *args, **kwargs)
    return wrapper


def pass_unlocked_archive(f: Callable) -> Callable:
    """Open and unlock the archive; adds --passphrase-file."""
    @passphrase_file_option
    @click.pass_context
    @functools.wraps(f)
    def wrapper(ctx: click.Context, *args: Any, passphrase_file: Path | None, **kwargs: Any) -> Any:
        return f(open_archive(ctx, unlock=True, passphrase_file=passphrase_file), *args, **kwargs)
    return wrapper


def progress_bar(total: int, label: str):
    """A progress bar on a terminal, nothing when piped."""
    if not sys.stderr.isatty():
        return None
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=False,
                             show_percent=True, show_eta=True)
