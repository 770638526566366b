"""`disclose` and `verify-disclosure`: packages a court can check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.api import Archive
from archive.disclosure import verify_package

from .main import cli
from .options import json_option, open_archive, pass_unlocked_archive, passphrase_file_option


@cli.command()
@click.argument("record_id")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The package folder to create (must not exist, or be empty).")
@click.option("--reveal", multiple=True, metavar="FIELD",
              help="title, body, language, tags, witness, location, attachments or "
                   "attachment:NAME; repeatable (default: title, body, attachments).")
@pass_unlocked_archive
def disclose(archive: Archive, record_id: str, out: Path, reveal: tuple[str, ...]) -> None:
    """Write a disclosure package a court can verify with standard tools.

    Fields not revealed stay hidden and the signature still verifies; a witness whose
    consent is `internal` is never revealed.

    Example: testimony disclose 3f9a07c2 --out court-2026-114 --reveal title --reveal attachments
    """
    rid, files = archive.disclose(record_id, out, reveal=list(reveal))
    click.echo(f"Wrote {out} for record {rid[:16]}: {len(files)} files")
    click.echo(f"Check it: cd {out} && sha256sum -c SHA256SUMS && testimony verify-disclosure .")


@cli.command("verify-disclosure")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pinned", is_flag=True,
              help="Also say whether the author's key is pinned in your archive (needs the passphrase).")
@json_option
@passphrase_file_option
@click.pass_context
def verify_disclosure(ctx: click.Context, folder: Path, pinned: bool, as_json: bool,
                      passphrase_file: Path | None) -> None:
    """Check a disclosure package; needs no archive and no secret. Exit 1 if anything fails.

    Example: testimony verify-disclosure court-2026-114
    """
    describe = None
    if pinned:
        archive = open_archive(ctx, unlock=True, passphrase_file=passphrase_file)
        describe = lambda fp: archive.peers.describe(fp, unknown="not pinned in your archive")  # noqa: E731
    report = verify_package(folder, describe=describe)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for check in report.checks:
            click.echo(f"{'ok    ' if check.ok else 'FAILED'}  {check.name}: {check.detail}")
        click.echo(report.verdict())
    if not report.ok:
        sys.exit(1)
