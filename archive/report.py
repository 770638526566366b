"""`verify ID --report FILE.html`: one self-contained page a person would rather read.

No scripts, no external assets (styles inline), every value escaped. The page carries
the verdict, the author and fingerprint, each file with its SHA-256, and the custody
timeline with each event's signature and log inclusion.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .encoding import group_fingerprint

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
.verdict{padding:1rem;border-radius:.4rem;font-weight:600}
.ok{background:#e6f4ea;border:1px solid #2e7d32} .bad{background:#fdecea;border:1px solid #c62828}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
code{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
"""


def render(*, record_id: str, ok: bool, problems: list[str], kind: str, title: str, author: str,
           fingerprint: str, signer: str, created: str, files: list[dict[str, Any]],
           custody: list[dict[str, Any]], generated: str) -> str:
    verdict = ("VERIFIED: the signature, every field commitment and every file hash hold"
               if ok else "NOT VERIFIED: " + "; ".join(problems))
    rows = "".join(
        f"<tr><td>{escape(f['name'])}</td><td>{f['size']:,} bytes</td>"
        f"<td><code class=\"sha256\">{escape(f['sha256'])}</code></td></tr>" for f in files)
    timeline = "".join(
        f"<tr><td>{escape(c['time'])}</td><td>{escape(c['event'])}</td><td>{escape(c['actor_is'])}</td>"
        f"<td>{escape(c.get('peer_is') or '')}</td><td>signature valid"
        f"{'; in its log at #' + str(c['log']['index']) + ' of ' + str(c['log']['head_size']) if c.get('log') else '; not proven in a log'}"
        f"</td></tr>" for c in custody)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>testimony verification report {escape(record_id[:16])}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Verification report</h1>
<p class="verdict {'ok' if ok else 'bad'}" id="verdict">{escape(verdict)}</p>
<table>
<tr><th>Record</th><td><code id="record">{escape(record_id)}</code></td></tr>
<tr><th>Kind</th><td>{escape(kind)}</td></tr>
<tr><th>Title</th><td>{escape(title)}</td></tr>
<tr><th>Author</th><td>{escape(author)} (the key holder's own claim)</td></tr>
<tr><th>Signing key</th><td><code id="fingerprint">{escape(fingerprint)}</code><br>
{escape(group_fingerprint(fingerprint))} — {escape(signer)}</td></tr>
<tr><th>Created</th><td>{escape(created)} (the author's claim)</td></tr>
</table>
<h2>Files</h2>
<table><tr><th>Name</th><th>Size</th><th>SHA-256</th></tr>{rows or '<tr><td colspan="3">none</td></tr>'}</table>
<h2>Custody</h2>
<table><tr><th>Time</th><th>Event</th><th>By</th><th>Peer</th><th>Checks</th></tr>{timeline}</table>
<p><small>Generated {escape(generated)} by testimony. Check the files yourself with
<code>sha256sum</code>; for a court, prefer <code>testimony disclose</code>.</small></p>
</body></html>
"""
