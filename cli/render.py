"""Printing records for people (tables) and for scripts (--json)."""

from __future__ import annotations

import json

import click

from archive.results import RecordSummary, RecordView
from archive.encoding import group_fingerprint


def render_summaries(rows: list[RecordSummary], *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no records")
        return
    for r in rows:
        tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
        files = f"  ({r.attachments} file{'s' if r.attachments != 1 else ''})" if r.attachments else ""
        click.echo(f"{r.record_id[:16]}  {r.created}  {r.kind:<9}  {r.title}{tags}{files}")
    click.echo(f"{len(rows)} record{'s' if len(rows) != 1 else ''}")


def render_record(view: RecordView, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(view.to_json(), indent=2, ensure_ascii=False))
        return
    s, f = view.statement, view.fields
    click.echo(f"Record:    {view.record_id}")
    click.echo(f"Kind:      {s['kind']}")
    click.echo(f"Created:   {s['created']} (the author's claim)")
    click.echo(f"Author:    {s['author']['name']} (the author's claim)")
    click.echo(f"Signed by: key {group_fingerprint(view.author_fingerprint)} ({view.signer}); "
               "signature valid")
    for key in ("title", "location", "language"):
        if key in f:
            click.echo(f"{key.capitalize() + ':':<11}{f[key]}")
    if "tags" in f:
        click.echo(f"Tags:      {', '.join(f['tags'])}")
    if "witness" in f:
        click.echo(f"Witness:   {f['witness']['pseudonym']} (consent: {f['witness']['consent']})")
    if s["supersedes"]:
        click.echo(f"Corrects:  {', '.join(x[:16] for x in s['supersedes'])}")
    for a in view.attachments:
        click.echo(f"File:      {a['name']}  {a['size']:,} bytes  {a['media_type']}")
        click.echo(f"           sha256 {a['sha256']}")
    if "body" in f:
        click.echo("")
        click.echo(f["body"])
