"""Turning what the user typed (options, text file, header block) into record fields."""

from __future__ import annotations

from typing import Any

from . import constants as C
from .errors import UsageError
from .textinput import parse_text, split_tags


def compose_fields(*, text: str | None, title: str | None, tags: list[str], witness: str | None,
                   consent: str | None, location: str | None, language: str | None) -> dict[str, Any]:
    """Merge options with the text's header block; a field given both ways is an error."""
    parsed = parse_text(text) if text is not None else None
    header = parsed.header if parsed else {}
    options = {"title": title, "witness": witness, "consent": consent, "location": location,
               "language": language}
    for key, value in options.items():
        if value and key in header:
            raise UsageError(f"{key} is given both as --{key} and in the text header")
    merged = {k: v for k, v in options.items() if v} | {k: v for k, v in header.items() if k != "tags"}
    all_tags = sorted(set(tags) | set(split_tags(header.get("tags", ""))))
    fields: dict[str, Any] = {}
    for key in ("title", "location", "language"):
        if merged.get(key):
            fields[key] = merged[key]
    if parsed and parsed.body.strip():
        fields["body"] = parsed.body
    if all_tags:
        fields["tags"] = all_tags
    if merged.get("witness"):
        consent_level = merged.get("consent") or "internal"
        if consent_level not in C.CONSENT_LEVELS:
            raise UsageError(f"consent must be one of {', '.join(C.CONSENT_LEVELS)}, not {consent_level!r}")
        fields["witness"] = {"pseudonym": merged["witness"], "consent": consent_level}
    elif merged.get("consent"):
        raise UsageError("consent is given without a witness", hint="add --witness PSEUDONYM")
    return fields
