"""`testimony demo`: the whole story so far, on fictional data, in a temporary folder.

Everything here is invented: the team, the witness, the clinic and the documents.
Each step prints the command a user would type, then what the archive answered.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .api import Archive

DEMO_PASSPHRASE = "demo only: lantern-orbit-meadow-copper"  # fictional, in a throwaway folder

TESTIMONY = """title: Wounded man refused at the Riverside clinic
tags: hospital-refusal, riverside
witness: W-17
consent: legal
location: Riverside district (fictional)
language: en
---
On the evening of the march, a man with a head wound was carried to the Riverside
clinic. The nurse at the door said they had orders not to admit anyone from the
square. We waited forty minutes; nobody examined him.
"""

LETTER = """Riverside Clinic - internal notice (fictional sample)
Staff are reminded that admissions from the square require the director's approval.
"""


def _sample_files(folder: Path) -> Path:
    evidence = folder / "stick" / "clinic"
    (evidence / "photos").mkdir(parents=True)
    (evidence / "notice.txt").write_text(LETTER)
    # Deterministic stand-ins for photos: fictional bytes, not real images.
    for i in range(3):
        (evidence / "photos" / f"door-{i + 1}.jpg").write_bytes(
            bytes((j * (i + 7)) % 251 for j in range(200_000 + 50_000 * i)))
    # The same photo copied twice onto the stick, as happens in the field.
    shutil.copy(evidence / "photos" / "door-1.jpg", evidence / "photos" / "door-1 (copy).jpg")
    return evidence


def run_demo(say: Callable[[str], None], *, keep: bool = False) -> None:
    folder = Path(tempfile.mkdtemp(prefix="testimony-demo-"))
    home, keys = folder / "laptop", folder / "keystick"
    step = [0]

    def title(text: str, command: str) -> None:
        step[0] += 1
        say(f"\n== {step[0]}. {text}\n   $ {command}")

    try:
        evidence = _sample_files(folder)
        (folder / "statement.txt").write_text(TESTIMONY)
        say("A fictional field team records a testimony and evidence offline.")
        say(f"Working in {folder} (removed at the end).")

        title("Create the archive; keys go on a separate stick",
              "testimony --home laptop --keys keystick init --name 'Riverside field team' --kdf interactive")
        archive = Archive.create(home, keys, name="Riverside field team",
                                 passphrase=DEMO_PASSPHRASE, kdf="interactive")
        card = archive.identity()
        say(f"   fingerprint {card.short_fingerprint} — read it aloud to peers")

        title("Record the testimony; the header keeps the witness out of argv",
              "testimony record --text-file statement.txt --attach stick/clinic/notice.txt")
        from .composing import compose_fields
        fields = compose_fields(text=TESTIMONY, title=None, tags=[], witness=None, consent=None,
                                location=None, language=None)
        rid = archive.record(fields=fields, attachments=[evidence / "notice.txt"])
        say(f"   {rid}")

        title("Add the evidence folder: one record per new file",
              "testimony add stick/clinic --tag riverside")
        s = archive.add([evidence], tags=["riverside"])
        for name, dup in s.duplicate_files:
            say(f"   duplicate: {name} (already stored as {dup[:16]})")
        say(f"   {s.files} files: {s.new} new, {s.duplicates} duplicates")

        title("Add it again: nothing new is stored", "testimony add stick/clinic")
        s = archive.add([evidence])
        say(f"   {s.files} files: {s.new} new, {s.duplicates} duplicates")

        title("List and search (decrypted with the passphrase; the index holds no clear text)",
              "testimony list ; testimony search nurse")
        for r in archive.list_records():
            say(f"   {r.record_id[:16]}  {r.kind:<9}  {r.title}")
        say(f"   search 'nurse': {[r.title for r in archive.search('nurse')]}")

        title("Show the testimony, its signature checked", f"testimony show {rid[:12]}")
        view = archive.show(rid[:12])
        say(f"   signed by {view.signer}; witness {view.fields['witness']['pseudonym']} "
            f"(consent {view.fields['witness']['consent']})")

        title("Extract its attachment; written only once the SHA-256 matches",
              f"testimony extract {rid[:12]} --out court-copy")
        for path in archive.extract(rid[:12], folder / "court-copy"):
            say(f"   wrote {path.relative_to(folder)}")

        title("Verify every record and check the store", "testimony verify ; testimony check --read-data")
        report = archive.verify()
        say(f"   {len(report.records) - len(report.failed)} of {len(report.records)} records verified")
        say(f"   store: {'ok' if archive.check(read_data=True).ok else 'PROBLEMS'}")
        words = [b"nurse", b"W-17", b"Riverside", b"hospital-refusal"]
        leaked = [p for p in home.rglob("*") if p.is_file() and any(w in p.read_bytes() for w in words)]
        say(f"   files under the archive holding the witness's words in clear: {len(leaked)}")
        archive.close()

        title("Someone changes one byte of the stored data", "testimony verify")
        pack = next((home / "packs").rglob("*"))
        while pack.is_dir():
            pack = next(pack.iterdir())
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0x01
        pack.write_bytes(bytes(data))
        with Archive(home, keys) as tampered:
            tampered.unlock(DEMO_PASSPHRASE)
            report = tampered.verify()
            for r in report.failed:
                say(f"   FAILED {r.record_id[:16]}: {r.problems[0]}")
            say(f"   exit status would be {0 if report.ok else 1}")
        say("\nThe demo is over. Nothing it wrote was real.")
    finally:
        if keep:
            say(f"Kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
