"""The `testimony` group, shared error handling, `init` and `demo`.

Only this module catches ArchiveError: it prints `Error: …` and `Hint: …` and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive import __version__
from archive.api import Archive
from archive.constants import DEFAULT_KDF, KDF_PROFILES
from archive.errors import ArchiveError, disk_error

from .options import homes, passphrase_file_option, read_passphrase


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="TESTIMONY_HOME", type=click.Path(file_okay=False, path_type=Path),
              help="Archive folder [env TESTIMONY_HOME; default: the XDG data folder].")
@click.option("--keys", envvar="TESTIMONY_KEYS", type=click.Path(file_okay=False, path_type=Path),
              help="Keys folder, e.g. on a stick kept apart [env TESTIMONY_KEYS; default HOME/keys].")
@click.option("--debug", is_flag=True, help="Show a traceback on errors (may reveal file names).")
@click.version_option(__version__, prog_name="testimony")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, keys: Path | None, debug: bool) -> None:
    """testimony: a secure, offline-first archive of testimonies and evidence.

    Everything is encrypted at rest and signed by its author. Start with
    `testimony init`, then `record` a testimony or `add` evidence files.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(home=home, keys=keys, debug=debug)


@cli.command()
@click.option("--name", prompt="Name for this identity (shown to peers)",
              help='Who signs: a person or team, e.g. "Almaty field team".')
@click.option("--kdf", type=click.Choice(list(KDF_PROFILES)), default=DEFAULT_KDF, show_default=True,
              help="Argon2id cost of the passphrase: interactive, moderate or sensitive.")
@passphrase_file_option
@click.pass_context
def init(ctx: click.Context, name: str, kdf: str, passphrase_file: Path | None) -> None:
    """Create an archive and a new identity; never overwrites existing keys.

    Example: testimony init --name "Almaty field team"
    """
    home, keys = homes(ctx)
    passphrase = read_passphrase(passphrase_file, confirm=True)
    archive = Archive.create(home, keys, name=name, passphrase=passphrase, kdf=kdf)
    card = archive.identity()
    archive.close()
    click.echo(f"Created archive {home}")
    click.echo(f"Identity:    {card.name}")
    click.echo(f"Fingerprint: {card.short_fingerprint}")
    click.echo(f"Keys:        {keys}")
    click.echo(f"Keep {keys / 'revocation.cert'} somewhere apart from this laptop: "
               "it lets you revoke this key if the laptop is lost.")


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the temporary folder and print where it is.")
def demo(keep: bool) -> None:
    """Run the whole story on fictional sample data in a temporary folder.

    Example: testimony demo
    """
    from archive.demo import run_demo
    run_demo(click.echo, keep=keep)


def _register() -> None:
    from . import bundles, checks, custody, disclosures, identity, peers, records  # noqa: F401  (commands attach to `cli`)


_register()


def main() -> None:
    """Entry point: one clear line for every error, exit 1; a traceback only with --debug."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False, prog_name="testimony")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("\nInterrupted: what was already committed is kept; nothing else was written.",
                   err=True)
        sys.exit(1)
    except Exception as e:
        if debug:
            raise
        # A full, read-only or failing disk is the machine's answer, not damage or a bug.
        shown = disk_error(e) or e
        if isinstance(shown, ArchiveError):
            click.echo(f"Error: {shown}", err=True)
            if shown.hint:
                click.echo(f"Hint: {shown.hint}", err=True)
        else:  # our own bug: still one line, never a traceback by default
            click.echo(f"Error: unexpected {type(e).__name__}; nothing more was written. "
                       "Run again with --debug and report it.", err=True)
        sys.exit(1)
