"""`record`, `add`, `list`, `show`, `search`, `extract`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from archive.api import Archive
from archive.constants import CONSENT_LEVELS
from archive.composing import compose_fields
from archive.editing import edit_text
from archive.errors import UsageError
from archive.textinput import TEMPLATE

from .main import cli
from .options import json_option, pass_unlocked_archive, progress_bar
from .render import render_record, render_summaries


DUPLICATES_SHOWN = 20


def _read_text(text_file: str | None) -> str | None:
    if text_file == "-":
        data = sys.stdin.buffer.read()
    elif text_file is not None:
        try:
            data = Path(text_file).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {text_file}: {e.strerror}") from e
    elif sys.stdin.isatty() and (os.environ.get("VISUAL") or os.environ.get("EDITOR")):
        return edit_text(TEMPLATE)
    else:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError("the testimony text is not valid UTF-8") from e


@cli.command()
@click.option("--title", help="Short title (or put `title:` in the text header).")
@click.option("--text-file", metavar="FILE|-",
              help="The testimony text; `-` reads standard input. Without it, $EDITOR opens.")
@click.option("--attach", multiple=True, type=click.Path(path_type=Path),
              help="Attach a file (photo, letter, audio); repeatable.")
@click.option("--tag", "tags", multiple=True, help="A tag; repeatable.")
@click.option("--witness", help="The witness's pseudonym, never a real name.")
@click.option("--consent", type=click.Choice(CONSENT_LEVELS),
              help="What the witness agreed to: internal, legal or public.")
@click.option("--location", help="Where it happened.")
@click.option("--language", help="Language of the text, e.g. ru, kk, en.")
@click.option("--supersedes", multiple=True, metavar="ID", help="A record this one corrects.")
@click.option("--to", "to", multiple=True, metavar="PEER",
              help="A pinned peer who may read it (default: `peers default`); repeatable.")
@pass_unlocked_archive
def record(archive: Archive, title: str | None, text_file: str | None, attach: tuple[Path, ...],
           tags: tuple[str, ...], witness: str | None, consent: str | None, location: str | None,
           language: str | None, supersedes: tuple[str, ...], to: tuple[str, ...]) -> None:
    """Record a testimony, signed and encrypted; prints its record id.

    The text may begin with a header block (title:, tags:, witness:, consent:,
    location:, language: lines, then `---`) so nothing sensitive passes through
    argv or shell history.

    Example: testimony record --text-file statement.txt --attach letter.pdf
    """
    fields = compose_fields(text=_read_text(text_file), title=title, tags=list(tags), witness=witness,
                            consent=consent, location=location, language=language)
    record_id = archive.record(fields=fields, attachments=list(attach), supersedes=list(supersedes),
                               to=list(to))
    click.echo(record_id)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Tag every new record; repeatable.")
@click.option("--to", "to", multiple=True, metavar="PEER",
              help="A pinned peer who may read them (default: `peers default`); repeatable.")
@json_option
@pass_unlocked_archive
def add(archive: Archive, paths: tuple[Path, ...], tags: tuple[str, ...], to: tuple[str, ...],
        as_json: bool) -> None:
    """Add evidence files and folders (recursively), one record per new file.

    A file whose content is already stored is reported as a duplicate.

    Example: testimony add ~/sticks/clinic-photos --tag hospital-refusal
    """
    state: dict = {}

    def on_files(count: int, total: int) -> None:
        state["bar"] = progress_bar(total, f"Adding {count} files")

    def progress(n: int) -> None:
        if state.get("bar"):
            state["bar"].update(n)

    try:
        summary = archive.add(list(paths), tags=list(tags), to=list(to), progress=progress,
                              on_files=on_files)
    finally:
        if state.get("bar"):
            state["bar"].render_finish()
    if as_json:
        click.echo(json.dumps({
            "files": summary.files, "bytes": summary.bytes, "new": summary.new,
            "duplicates": summary.duplicates, "seconds": round(summary.seconds, 3),
            "records": [{"name": n, "id": i} for n, i in summary.new_records],
            "duplicate_files": [{"name": n, "id": i} for n, i in summary.duplicate_files]}, indent=2))
        return
    shown = summary.duplicate_files[:DUPLICATES_SHOWN]
    for name, rid in shown:
        click.echo(f"duplicate: {name} (already stored as {rid[:16]})")
    if len(summary.duplicate_files) > len(shown):
        click.echo(f"… and {len(summary.duplicate_files) - len(shown)} more duplicates (--json lists all)")
    click.echo(f"{summary.files} files, {summary.bytes / 1e6:,.1f} MB: {summary.new} new, "
               f"{summary.duplicates} duplicates, {summary.mb_per_s:,.0f} MB/s")


@cli.command("list")
@click.option("--tag", help="Only records with this tag.")
@json_option
@pass_unlocked_archive
def list_(archive: Archive, tag: str | None, as_json: bool) -> None:
    """List records, oldest first.

    Example: testimony list --tag hospital-refusal
    """
    render_summaries(archive.list_records(tag=tag), as_json=as_json)


@cli.command()
@click.argument("text")
@json_option
@pass_unlocked_archive
def search(archive: Archive, text: str, as_json: bool) -> None:
    """Find records whose title, text, tags, place, witness or file names contain TEXT.

    Example: testimony search "district hospital"
    """
    render_summaries(archive.search(text), as_json=as_json)


@cli.command()
@click.argument("record_id")
@json_option
@pass_unlocked_archive
def show(archive: Archive, record_id: str, as_json: bool) -> None:
    """Decrypt and print one record, its signature checked.

    Example: testimony show 3f9a07c2
    """
    render_record(archive.show(record_id), as_json=as_json)


@cli.command()
@click.argument("record_id")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the attachments into (never outside it).")
@pass_unlocked_archive
def extract(archive: Archive, record_id: str, out: Path) -> None:
    """Decrypt a record's attachments, each written only once its SHA-256 matches.

    Example: testimony extract 3f9a07c2 --out ~/court-copy
    """
    written = archive.extract(record_id, out)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo("this record has no attachments")
