"""A court checks a package with standard tools alone, as VERIFY.txt says: OpenSSH's
`ssh-keygen -Y verify` for the author's signature and coreutils' `sha256sum -c` for the
files. Both run for real; a missing tool fails the test (.ci/run installs them), it is
never skipped.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

from archive import disclosure as D
from archive import sshsig


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path is not None, (f"{name} is not installed: install {package} (.ci/run does) — the "
                              "disclosure package must be checked with it for real")
    return path


def _ssh_verify(pkg: Path, statement: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("ssh-keygen", "openssh-client"), "-Y", "verify", "-f", "allowed_signers", "-I", D.SSH_PRINCIPAL,
         "-n", "testimony", "-s", "statement.json.sig"],
        input=statement, cwd=pkg, capture_output=True, timeout=30)


def test_ssh_keygen_verifies_the_statement(scene, pkg):
    statement = (pkg / D.STATEMENT).read_bytes()
    p = _ssh_verify(pkg, statement)
    assert p.returncode == 0, p
    # OpenSSH names the key by SHA256 of its wire blob: it must be the author's.
    blob = sshsig.public_key_blob(scene.world["field"].card.sign_key)
    ssh_fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert p.stdout.decode().strip() == (f'Good "testimony" signature for {D.SSH_PRINCIPAL} with ED25519 '
                                         f"key SHA256:{ssh_fp}")


def test_ssh_keygen_refuses_a_modified_statement(pkg):
    statement = bytearray((pkg / D.STATEMENT).read_bytes())
    at = statement.index(b'"created":"') + len(b'"created":"') + 3   # a digit of the year
    statement[at] = ord("9") if statement[at] != ord("9") else ord("8")
    (pkg / D.STATEMENT).write_bytes(bytes(statement))
    p = _ssh_verify(pkg, bytes(statement))
    assert p.returncode != 0, p
    assert b"Good" not in p.stdout
    assert D.verify_package(pkg).checks[0].name == "files" and not D.verify_package(pkg).ok


def test_ssh_keygen_refuses_another_namespace_or_principal(pkg):
    statement = (pkg / D.STATEMENT).read_bytes()
    ssh = _tool("ssh-keygen", "openssh-client")
    for args in (["-I", D.SSH_PRINCIPAL, "-n", "file"], ["-I", "someone", "-n", "testimony"]):
        p = subprocess.run([ssh, "-Y", "verify", "-f", "allowed_signers", *args, "-s", "statement.json.sig"],
                           input=statement, cwd=pkg, capture_output=True, timeout=30)
        assert p.returncode != 0, (args, p)


def test_sha256sum_checks_every_file(pkg):
    sha256sum = _tool("sha256sum", "coreutils")
    p = subprocess.run([sha256sum, "-c", "SHA256SUMS"], cwd=pkg, capture_output=True, timeout=30)
    assert p.returncode == 0, p
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 9 and all(line.endswith(": OK") for line in lines)
    assert sorted(line.removesuffix(": OK") for line in lines) == sorted(
        line.split("  ", 1)[1] for line in (pkg / D.SUMS).read_text().splitlines())

    letter = pkg / "files" / "letter.txt"
    letter.write_bytes(letter.read_bytes().replace(b"3 May", b"4 May"))
    p = subprocess.run([sha256sum, "-c", "SHA256SUMS"], cwd=pkg, capture_output=True, timeout=30)
    assert p.returncode == 1 and "files/letter.txt: FAILED" in p.stdout.decode(), p
