"""`testimony demo`: the whole story, on fictional data, in a temporary folder.

Four sites, each its own archive: a field team records a testimony and evidence
offline; a courier, who must not read them, carries a bundle; an archivist imports and
keeps them; a lawyer verifies what was signed and where it has been, and discloses it
to a court without revealing the witness. Everything here
is invented: the people, the witness, the clinic and the documents. Each step prints
the command a user would type, then what the archive answered.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .api import Archive
from .composing import compose_fields
from .disclosure import verify_package
from .errors import ArchiveError

DEMO_PASSPHRASE = "demo only: lantern-orbit-meadow-copper"  # fictional, in a throwaway folder

TESTIMONY = """title: Wounded man refused at the Riverside clinic
tags: hospital-refusal, riverside
witness: W-17
consent: internal
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

SITES = {"field": "Riverside field team", "courier": "Courier K.",
         "archive": "Northbank archive", "lawyer": "Advocate M."}


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


class _Story:
    def __init__(self, folder: Path, say: Callable[[str], None]) -> None:
        self.folder, self.say, self.step = folder, say, 0

    def title(self, text: str, command: str) -> None:
        self.step += 1
        self.say(f"\n== {self.step}. {text}\n   $ {command}")

    def open(self, site: str) -> Archive:
        archive = Archive(self.folder / site, self.folder / f"{site}-keys")
        archive.unlock(DEMO_PASSPHRASE)
        return archive


def run_demo(say: Callable[[str], None], *, keep: bool = False) -> None:
    folder = Path(tempfile.mkdtemp(prefix="testimony-demo-"))
    story = _Story(folder, say)
    try:
        _run(story, folder)
        say("\nThe demo is over. Nothing it wrote was real.")
    finally:
        if keep:
            say(f"Kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _run(story: _Story, folder: Path) -> None:
    say, title = story.say, story.title
    evidence = _sample_files(folder)
    (folder / "statement.txt").write_text(TESTIMONY)
    say("Four fictional sites: a field team, a courier, an archive and a lawyer.")
    say(f"Working in {folder} (removed at the end).")

    title("Each site creates its archive (keys on a separate stick) and exports its card",
          "testimony --home field --keys field-keys init --name 'Riverside field team' ; "
          "testimony identity export --out field.pub")
    cards = {}
    for site, name in SITES.items():
        with Archive.create(folder / site, folder / f"{site}-keys", name=name,
                            passphrase=DEMO_PASSPHRASE, kdf="interactive") as archive:
            cards[site] = archive.export_identity(folder / f"{site}.pub")
        say(f"   {site:<8} {cards[site].short_fingerprint}")

    title("They pin each other's keys after reading fingerprints aloud",
          "testimony peers add archive.pub --name 'Northbank archive' --role archivist --fingerprint …")
    pins = {"field": [("courier", "courier"), ("archive", "archivist"), ("lawyer", "lawyer")],
            "courier": [("field", "field"), ("archive", "archivist")],
            "archive": [("courier", "courier"), ("field", "field"), ("lawyer", "lawyer")],
            "lawyer": [("archive", "archivist"), ("field", "field")]}
    for site, peers in pins.items():
        with story.open(site) as archive:
            for other, role in peers:
                archive.add_peer(folder / f"{other}.pub", name=SITES[other], role=role,
                                 fingerprint=cards[other].fingerprint[:32])
            say(f"   {site:<8} pinned {', '.join(SITES[o] for o, _ in peers)}")
    with story.open("field") as archive:
        archive.set_default_recipients([SITES["archive"], SITES["lawyer"]])
    say("   the field team encrypts new records to the archive and the lawyer by default")

    title("The field team records the testimony; the header keeps the witness out of argv",
          "testimony record --text-file statement.txt --attach stick/clinic/notice.txt")
    with story.open("field") as archive:
        fields = compose_fields(text=TESTIMONY, title=None, tags=[], witness=None, consent=None,
                                location=None, language=None)
        rid = archive.record(fields=fields, attachments=[evidence / "notice.txt"])
        say(f"   {rid}")

        title("It adds the evidence folder: one record per new file, duplicates stored once",
              "testimony add stick/clinic --tag riverside")
        s = archive.add([evidence], tags=["riverside"])
        for name, dup in s.duplicate_files:
            say(f"   duplicate: {name} (already stored as {dup[:16]})")
        say(f"   {s.files} files: {s.new} new, {s.duplicates} duplicates")
        words = [b"nurse", b"W-17", b"Riverside", b"hospital-refusal"]
        home = folder / "field"
        leaked = [p for p in home.rglob("*") if p.is_file() and any(w in p.read_bytes() for w in words)]
        say(f"   files on the laptop holding the witness's words in clear: {len(leaked)}")

        title("A bundle for the courier: random bytes to whoever finds the stick",
              "testimony bundle export --to 'Courier K.' --out stick/to-courier.tmy")
        out = archive.export_bundle([SITES["courier"]], folder / "to-courier.tmy")
        say(f"   {out.objects} objects, {out.files[0][1]:,} bytes; first bytes "
            f"{(folder / 'to-courier.tmy').read_bytes()[:12].hex()}…")

    title("The courier imports it: it can relay the records but not read them",
          "testimony bundle import to-courier.tmy ; testimony list")
    with story.open("courier") as archive:
        r = archive.import_bundle(folder / "to-courier.tmy")
        say(f"   {r.new_objects} new objects, {r.new_records} readable records, "
            f"{r.relay_only} kept to relay on")
        r = archive.import_bundle(folder / "to-courier.tmy")
        say(f"   importing it again: {'no-op' if r.already_imported else 'imported twice?!'}")
        archive.export_bundle([SITES["archive"]], folder / "to-archive.tmy")

    title("Someone flips one byte of the courier's next bundle on the way",
          "testimony bundle import tampered.tmy")
    data = bytearray((folder / "to-archive.tmy").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "tampered.tmy").write_bytes(bytes(data))
    with story.open("archive") as archive:
        try:
            archive.import_bundle(folder / "tampered.tmy")
            say("   imported?! (this must not happen)")
        except ArchiveError as e:
            say(f"   Error: {e} — the archive is unchanged ({len(archive.list_records())} records)")

    title("The archive imports the intact bundle and reads every record",
          "testimony bundle import to-archive.tmy ; testimony verify")
    with story.open("archive") as archive:
        r = archive.import_bundle(folder / "to-archive.tmy")
        say(f"   {r.new_records} new records from {r.sender}")
        report = archive.verify()
        say(f"   {len(report.records) - len(report.failed)} of {len(report.records)} records verified")
        say("   a bundle back to the courier carries only acknowledgements")
        archive.export_bundle([SITES["courier"], SITES["lawyer"]], folder / "from-archive.tmy")

    title("The lawyer imports the archive's bundle and checks the testimony",
          f"testimony bundle import from-archive.tmy ; testimony show {rid[:12]} ; testimony custody {rid[:12]}")
    with story.open("lawyer") as archive:
        archive.import_bundle(folder / "from-archive.tmy")
        view = archive.show(rid[:12])
        say(f"   \"{view.fields['title']}\" signed by {view.signer}")
        for step in archive.custody(rid).steps:
            e = step.event
            say(f"   {e.time}  {e.event:<9} by {step.actor.split(' (')[0]}"
                + (f" → {step.peer.split(' (')[0]}" if e.event == "exported" else ""))
        copies = archive.extract(rid[:12], folder / "court-copy")
        say(f"   extracted {', '.join(p.name for p in copies)} (SHA-256 checked)")

    title("The lawyer discloses it to a court: the witness stays hidden, the signature holds",
          f"testimony disclose {rid[:12]} --out court-package --reveal title --reveal body "
          "--reveal attachments ; testimony verify-disclosure court-package")
    with story.open("lawyer") as archive:
        try:
            archive.disclose(rid[:12], folder / "refused", reveal=["witness"])
        except ArchiveError as e:
            say(f"   --reveal witness: Error: {e}")
        archive.disclose(rid[:12], folder / "court-package", reveal=["title", "body", "attachments"])
        archive.verify_report(rid[:12], folder / "report.html")
    report = verify_package(folder / "court-package")
    for check in report.checks:
        say(f"   {'ok' if check.ok else 'FAILED'}  {check.name}")
    say(f"   {report.verdict()}")
    say("   a court can also run: sha256sum -c SHA256SUMS ; ssh-keygen -Y verify -f allowed_signers "
        "-I author -n testimony -s statement.json.sig < statement.json")
    say("   and a one-page HTML report was written with `testimony verify ID --report report.html`")

    title("The acknowledgement travels back; the field team's next export shrinks",
          "testimony bundle import ack.tmy ; testimony bundle export --to 'Courier K.' --out next.tmy")
    with story.open("courier") as archive:
        archive.import_bundle(folder / "from-archive.tmy")
        archive.export_bundle([SITES["field"]], folder / "ack.tmy")
    with story.open("field") as archive:
        r = archive.import_bundle(folder / "ack.tmy")
        out = archive.export_bundle([SITES["courier"]], folder / "next.tmy")
        say(f"   {r.acks} bundle acknowledged; the next export holds {out.objects} objects")
