"""`custody ID`: a record's chain of custody, every signature checked."""

from __future__ import annotations

import json

import click

from archive.api import Archive
from archive.encoding import group_fingerprint

from .main import cli
from .options import json_option, pass_unlocked_archive


@cli.command()
@click.argument("record_id")
@json_option
@pass_unlocked_archive
def custody(archive: Archive, record_id: str, as_json: bool) -> None:
    """Show a record's chain of custody hop by hop, every signature checked.

    Example: testimony custody 3f9a07c2
    """
    chain = archive.custody(record_id)
    if as_json:
        click.echo(json.dumps(chain.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"Record {chain.record_id}")
    for step in chain.steps:
        e = step.event
        to = f" → {step.peer}" if e.event == "exported" else (f" ← {step.peer}" if e.peer else "")
        bundle = f"  bundle {e.bundle[:16]}" if e.bundle else ""
        log = (f"; in its log at #{step.log_index} of {step.head_size}" if step.proven
               else "; NOT proven to be in its actor's log")
        click.echo(f"  {e.time}  {e.event:<9} by {step.actor} [{group_fingerprint(e.actor)[:19]}]"
                   f"{to}{bundle}  signature valid{log}")
    click.echo(f"{len(chain.steps)} custody events")
    if chain.revoked:
        click.echo(f"The author's key was revoked on {chain.revoked}.")
        click.echo(f"Provably older than the revocation: {chain.older_than_revocation}"
                   if chain.older_than_revocation else
                   "Nothing here proves the record is older than the revocation.")
