"""`testimony identity show | export`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from archive.api import Archive

from .main import cli
from .options import json_option, pass_unlocked_archive


@cli.group()
def identity() -> None:
    """Show or export this archive's public identity card."""


@identity.command("show")
@json_option
@pass_unlocked_archive
def identity_show(archive: Archive, as_json: bool) -> None:
    """Print the name and fingerprint of this archive's identity.

    Example: testimony identity show
    """
    card = archive.identity()
    if as_json:
        click.echo(json.dumps({"name": card.name, "fingerprint": card.fingerprint,
                               "created": card.created, "sign_key": card.sign_key.hex(),
                               "box_key": card.box_key.hex()}, indent=2))
        return
    click.echo(f"Name:        {card.name}")
    click.echo(f"Fingerprint: {card.short_fingerprint}")
    click.echo(f"Full:        {card.fingerprint}")
    click.echo(f"Created:     {card.created}")


@identity.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the public card (refuses to overwrite).")
@pass_unlocked_archive
def identity_export(archive: Archive, out: Path) -> None:
    """Write the public identity card to give to peers (no secrets in it).

    Example: testimony identity export --out almaty.pub
    """
    card = archive.export_identity(out)
    click.echo(f"Wrote {out}. Tell peers this fingerprint in person or by voice:")
    click.echo(f"  {card.short_fingerprint}")
