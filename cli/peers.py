"""`peers add | list | revoke | default`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from archive.api import Archive
from archive.constants import PEER_ROLES
from archive.encoding import group_fingerprint

from .main import cli
from .options import json_option, pass_unlocked_archive


@cli.group()
def peers() -> None:
    """Pin, list and revoke the peers you exchange bundles with."""


@peers.command("add")
@click.argument("card", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Your name for this peer (a petname).")
@click.option("--role", required=True, type=click.Choice(PEER_ROLES), help="What this peer does.")
@click.option("--fingerprint", help="The fingerprint you obtained in person or by voice "
                                    "(32 or 64 hex digits); asked for when omitted.")
@pass_unlocked_archive
def peers_add(archive: Archive, card: Path, name: str, role: str, fingerprint: str | None) -> None:
    """Pin a peer's key, once you confirm the fingerprint they gave you in person.

    Example: testimony peers add almaty.pub --name "Almaty archive" --role archivist
    """
    if fingerprint is None:
        shown = archive.read_card(card)
        click.echo(f"The card says it belongs to {shown.name!r}.")
        click.echo("Type the fingerprint the peer read to you in person or by voice "
                   "(not the one from the card's file).")
        fingerprint = click.prompt("Fingerprint")
    peer = archive.add_peer(card, name=name, role=role, fingerprint=fingerprint)
    click.echo(f"Pinned {peer.name} ({peer.role}), key {group_fingerprint(peer.fingerprint)}")


@peers.command("list")
@json_option
@pass_unlocked_archive
def peers_list(archive: Archive, as_json: bool) -> None:
    """List pinned peers, with their roles and any revocation.

    Example: testimony peers list
    """
    rows = archive.list_peers()
    if as_json:
        click.echo(json.dumps({"peers": [p.to_json() for p in rows],
                               "default_recipients": archive.default_recipients()}, indent=2,
                              ensure_ascii=False))
        return
    if not rows:
        click.echo("no peers pinned")
    for p in rows:
        state = f"REVOKED {p.revoked}" if p.revoked else f"pinned {p.pinned[:10]}"
        click.echo(f"{p.name:<24} {p.role:<10} {group_fingerprint(p.fingerprint)}  {state}")
    defaults = archive.default_recipients()
    if defaults:
        click.echo(f"default recipients: {', '.join(defaults)}")


@peers.command("revoke")
@click.argument("name", required=False)
@click.option("--certificate", type=click.Path(dir_okay=False, path_type=Path),
              help="Apply a revocation certificate (e.g. one a peer's `init` wrote) instead.")
@pass_unlocked_archive
def peers_revoke(archive: Archive, name: str | None, certificate: Path | None) -> None:
    """Stop trusting a peer's key; the signed revocation travels in later bundles.

    Example: testimony peers revoke "Lost laptop"
    """
    if certificate is not None:
        revocation = archive.import_revocation(certificate)
        click.echo(f"Revocation of key {group_fingerprint(revocation.revoked)} "
                   f"(dated {revocation.created}) applied; it travels in later bundles")
        return
    if not name:
        raise click.UsageError("name the peer to revoke, or give --certificate FILE")
    peer = archive.revoke_peer(name)
    click.echo(f"Revoked {peer.name} as of {peer.revoked}; it will never be trusted again here")


@peers.command("default")
@click.argument("names", nargs=-1)
@click.option("--clear", is_flag=True, help="No default recipients.")
@pass_unlocked_archive
def peers_default(archive: Archive, names: tuple[str, ...], clear: bool) -> None:
    """Set the peers every new record is also encrypted to (without names: show them).

    Example: testimony peers default "Almaty archive"
    """
    if names or clear:
        chosen = archive.set_default_recipients([] if clear else list(names))
    else:
        chosen = archive.default_recipients()
    click.echo(f"default recipients: {', '.join(chosen) if chosen else 'none'}")
