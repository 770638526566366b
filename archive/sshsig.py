"""OpenSSH signatures (PROTOCOL.sshsig), so a court can check a statement with
`ssh-keygen -Y verify` alone, without our software.

The author signs the canonical statement bytes twice at record time: once with our
`statement` label (what every testimony tool checks) and once as an SSHSIG with the
namespace `testimony`. SSHSIG has its own domain separation (the `SSHSIG` preamble and
the namespace), so the two signatures can never be confused. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from . import constants as C
from . import crypto
from .errors import FormatError, SignatureError

NAMESPACE = C.SSHSIG_NAMESPACE
MAGIC = b"SSHSIG"
HASH_ALGORITHM = "sha512"
KEY_TYPE = "ssh-ed25519"
_ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_ARMOR_END = "-----END SSH SIGNATURE-----"


def _string(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


def public_key_blob(sign_key: bytes) -> bytes:
    return _string(KEY_TYPE) + _string(sign_key)


def signed_data(message: bytes, *, namespace: str = NAMESPACE) -> bytes:
    """What an SSHSIG signature covers: preamble, namespace, reserved, hash name, H(message)."""
    return (MAGIC + _string(namespace) + _string(b"") + _string(HASH_ALGORITHM)
            + _string(hashlib.sha512(message).digest()))


def sign(seed: bytes, message: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature of an SSHSIG over `message`."""
    return crypto.sign_sshsig(seed, signed_data(message))


def verify(sign_key: bytes, message: bytes, signature: bytes) -> None:
    try:
        crypto.verify_sshsig(sign_key, signed_data(message), signature)
    except SignatureError as e:
        raise SignatureError("the OpenSSH (SSHSIG) signature does not verify") from e


def armor(sign_key: bytes, signature: bytes, *, namespace: str = NAMESPACE) -> str:
    """The `-----BEGIN SSH SIGNATURE-----` file that `ssh-keygen -Y verify -s` reads."""
    blob = (MAGIC + struct.pack(">I", 1) + _string(public_key_blob(sign_key)) + _string(namespace)
            + _string(b"") + _string(HASH_ALGORITHM)
            + _string(_string(KEY_TYPE) + _string(signature)))
    text = base64.b64encode(blob).decode()
    lines = [text[i:i + 70] for i in range(0, len(text), 70)]
    return "\n".join([_ARMOR_BEGIN, *lines, _ARMOR_END]) + "\n"


def _read_string(blob: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(blob):
        raise FormatError("the SSH signature is truncated")
    (n,) = struct.unpack_from(">I", blob, at)
    if at + 4 + n > len(blob):
        raise FormatError("the SSH signature is truncated")
    return blob[at + 4:at + 4 + n], at + 4 + n


def dearmor(text: str) -> tuple[bytes, bytes]:
    """(signing key, 64-byte signature) from an armored SSHSIG in namespace `testimony`."""
    lines = [l.strip() for l in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _ARMOR_BEGIN or lines[-1] != _ARMOR_END:
        raise FormatError("not an armored SSH signature")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as e:
        raise FormatError("the SSH signature is not valid base64") from e
    if not blob.startswith(MAGIC) or blob[6:10] != struct.pack(">I", 1):
        raise FormatError("not an SSHSIG version 1 signature")
    key_blob, at = _read_string(blob, 10)
    namespace, at = _read_string(blob, at)
    _reserved, at = _read_string(blob, at)
    hash_name, at = _read_string(blob, at)
    sig_blob, at = _read_string(blob, at)
    if at != len(blob) or namespace != NAMESPACE.encode() or hash_name != HASH_ALGORITHM.encode():
        raise FormatError("the SSH signature is not a testimony signature (namespace or hash)")
    key_type, kat = _read_string(key_blob, 0)
    key, kat = _read_string(key_blob, kat)
    sig_type, sat = _read_string(sig_blob, 0)
    sig, sat = _read_string(sig_blob, sat)
    if (key_type != KEY_TYPE.encode() or sig_type != KEY_TYPE.encode() or len(key) != 32
            or len(sig) != 64 or kat != len(key_blob) or sat != len(sig_blob)):
        raise FormatError("the SSH signature is not an Ed25519 signature")
    return key, sig


def allowed_signers_line(principal: str, sign_key: bytes) -> str:
    """One line of an OpenSSH allowed_signers file trusting this key for `testimony`."""
    key = base64.b64encode(public_key_blob(sign_key)).decode()
    return f'{principal} namespaces="{NAMESPACE}" {KEY_TYPE} {key}\n'
