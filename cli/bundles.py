"""`bundle export | import | inspect`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from archive.api import Archive

from .main import cli
from .options import json_option, pass_unlocked_archive, progress_bar


@cli.group()
def bundle() -> None:
    """Carry records to pinned peers in encrypted, signed bundle files."""


@bundle.command("export")
@click.option("--to", "to", multiple=True, required=True, help="A pinned peer's name; repeatable (at most 4).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle file to write (never overwritten).")
@click.option("--new-only", "mode", flag_value="new-only",
              help="Leave out what was sent before but not yet acknowledged.")
@click.option("--all", "mode", flag_value="all", help="Send everything, acknowledged or not.")
@click.option("--max-size", metavar="SIZE",
              help="Split into several complete bundles of at most SIZE (e.g. 3.9G for FAT32).")
@pass_unlocked_archive
def bundle_export(archive: Archive, to: tuple[str, ...], out: Path, mode: str | None,
                  max_size: str | None) -> None:
    """Write every object these peers have not acknowledged into a bundle.

    An export of more records than one bundle's manifest can list (about 12,000 records)
    is written as several complete bundles, NAME-1of2.tmy and so on, as with --max-size.

    Example: testimony bundle export --to "Almaty archive" --out /media/stick/almaty.tmy
    """
    bar = progress_bar(0, "Exporting")
    result = archive.export_bundle(list(to), out, mode=mode or "unacked", max_size=max_size,
                                   progress=bar.update if bar else None)
    if bar:
        bar.render_finish()
    for path, size, count in result.files:
        click.echo(f"wrote {path}: {count} objects, {size / 1e6:,.1f} MB")
    click.echo(f"{result.objects} objects ({result.object_bytes / 1e6:,.1f} MB) "
               f"and {result.acks} acknowledgements for {', '.join(to)}")


@bundle.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_unlocked_archive
def bundle_import(archive: Archive, files: tuple[Path, ...], as_json: bool) -> None:
    """Import bundles from pinned peers: all or nothing, each; again is a no-op.

    Example: testimony bundle import /media/stick/almaty.tmy
    """
    results = []
    for path in files:
        r = archive.import_bundle(path)
        results.append(r)
        if as_json:
            continue
        if r.already_imported:
            click.echo(f"{path}: already imported; nothing changed")
            continue
        click.echo(f"{path}: from {r.sender}: {r.new_objects} new objects, {r.held_objects} already "
                   f"held, {r.new_records} new records, {r.relay_only} kept to relay on "
                   f"(not readable here)")
        if r.refused_revoked:
            click.echo(f"  refused {r.refused_revoked} records signed by a revoked key after its revocation")
        if r.acks:
            click.echo(f"  {r.acks} of our bundles acknowledged")
        if r.revocations:
            click.echo(f"  {r.revocations} revocations applied")
        if r.gaps:
            click.echo(f"  bundles {', '.join(map(str, r.gaps))} from this sender have not arrived yet")
    if as_json:
        click.echo(json.dumps([{**asdict(r), "path": str(r.path)} for r in results], indent=2))


@bundle.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_unlocked_archive
def bundle_inspect(archive: Archive, file: Path, as_json: bool) -> None:
    """Show who sent a bundle, to whom, what it holds and what is new, without importing.

    Example: testimony bundle inspect /media/stick/almaty.tmy
    """
    r = archive.inspect_bundle(file)
    if as_json:
        click.echo(json.dumps(asdict(r), indent=2, ensure_ascii=False))
        return
    click.echo(f"Sender:     {r.sender_name!r} (the sender's claim), key {r.sender_fingerprint[:32]}")
    click.echo(f"            {r.sender_status}")
    click.echo(f"Signature:  {'valid' if r.signature_ok else 'INVALID'}")
    click.echo(f"Recipients: {', '.join(r.recipients)}")
    click.echo(f"Created:    {r.created}")
    click.echo(f"Objects:    {r.objects} ({r.envelopes} records), {r.object_bytes / 1e6:,.1f} MB; "
               f"{r.new_objects} new here")
    click.echo(f"Custody:    {r.custody_events} events; {r.acks} acks; {r.revocations} revocations")
    click.echo(f"Intact:     {'yes' if r.intact else 'NO: ' + r.problem}")
    if r.already_imported:
        click.echo("Already imported here.")
