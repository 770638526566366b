"""`verify` and `check`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.api import Archive

from .main import cli
from .options import homes, json_option, open_archive, passphrase_file_option, read_passphrase


@cli.command()
@click.argument("record_id", required=False)
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page about RECORD_ID.")
@json_option
@passphrase_file_option
@click.pass_context
def verify(ctx: click.Context, record_id: str | None, report_file: Path | None, as_json: bool,
           passphrase_file) -> None:
    """Check signatures, field commitments, file hashes and custody; exit 1 on any failure.

    Example: testimony verify 3f9a07c2 --report 3f9a07c2.html
    """
    archive: Archive = open_archive(ctx, unlock=True, passphrase_file=passphrase_file)
    if report_file is not None:
        if not record_id:
            raise click.UsageError("--report needs a RECORD_ID")
        report = archive.verify_report(record_id, report_file)
    else:
        report = archive.verify(record_id)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for r in report.records:
            if r.ok:
                files = f", {r.attachments_checked} file(s) match their SHA-256" if r.attachments_checked else ""
                click.echo(f"ok      {r.record_id[:16]}  signed by {r.signer}{files}")
            else:
                for problem in r.problems:
                    click.echo(f"FAILED  {r.record_id[:16]}  {problem}")
        click.echo(f"{len(report.records) - len(report.failed)} of {len(report.records)} records verified"
                   + (f"; {len(report.failed)} FAILED" if report.failed else ""))
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--read-data", is_flag=True,
              help="Also re-hash every object and open every record (needs the passphrase).")
@click.option("--rebuild-index", is_flag=True,
              help="Rebuild archive.db from the packs and the keys (needs the passphrase); "
                   "a damaged index is kept aside, never deleted.")
@json_option
@passphrase_file_option
@click.pass_context
def check(ctx: click.Context, read_data: bool, rebuild_index: bool, as_json: bool,
          passphrase_file) -> None:
    """Check the object store against the index; exit 1 on any problem.

    Without --read-data it needs no passphrase. With --rebuild-index it first makes a new
    index from the packs: records from their envelopes; peers, custody, bundles and
    acknowledgements from the sealed journal the archive keeps in its packs.

    Example: testimony check --read-data
    """
    rebuilt = None
    if rebuild_index:
        home, keys = homes(ctx)
        archive, rebuilt = Archive.rebuild_index(home, keys, passphrase=read_passphrase(passphrase_file))
        ctx.call_on_close(archive.close)
    else:
        archive = open_archive(ctx, unlock=read_data, passphrase_file=passphrase_file)
    report = archive.check(read_data=read_data)
    if as_json:
        out = report.to_json()
        if rebuilt is not None:
            out["rebuilt"] = rebuilt.to_json()
        click.echo(json.dumps(out, indent=2))
    else:
        if rebuilt is not None:
            if rebuilt.moved_aside:
                click.echo(f"the old index was kept as {rebuilt.moved_aside}")
            for pack_id in rebuilt.unreadable_packs:
                click.echo(f"PROBLEM  pack {pack_id[:16]} is damaged and was left out of the index")
            click.echo(f"rebuilt the index: {rebuilt.records} records, {rebuilt.objects} objects in "
                       f"{rebuilt.packs} packs, {rebuilt.journal_entries:,} journal entries replayed "
                       f"from {rebuilt.journal_objects} journal objects")
        for problem in report.problems:
            click.echo(f"PROBLEM  {problem}")
        what = "every object re-hashed" if read_data else "structure only; --read-data re-hashes"
        click.echo(f"{report.packs} packs, {report.objects} objects, {report.records} records "
                   f"({what}): " + ("ok" if report.ok else f"{len(report.problems)} problem(s)"))
    if not report.ok or (rebuilt is not None and rebuilt.unreadable_packs):
        sys.exit(1)
