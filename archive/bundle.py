"""The bundle file: objects carried to peers, indistinguishable from random bytes.

    4 stanzas (hidden sealed boxes of the bundle key, 80 bytes each)
    ‖ 24-byte secretstream header
    ‖ messages, each exactly 64 KiB of plaintext (+17 bytes), the last alone TAG_FINAL;
      the first message's AD is SHA-256 of every file byte before it.

The plaintext is a stream of frames `u8 type ‖ u32 length ‖ body` — SIGNATURE,
MANIFEST, OBJECT…, END — then zeros to the end of the last message. This module
writes and reads that layout and enforces its grammar and limits; what a manifest
means (trust, acks, what is new) is sync.py's business.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

from . import constants as C
from . import crypto
from .encoding import canonical, from_hex, parse_canonical, parse_time, u32, read_u32
from .errors import FormatError, IntegrityError, SignatureError, TrustError
from .keys import IdentityCard, card_from_dict

_PREFIX = C.BUNDLE_STANZAS * C.BUNDLE_STANZA_BYTES + C.SECRETSTREAM_HEADER_BYTES
_SEALED_MESSAGE = C.BUNDLE_MESSAGE_BYTES + C.SECRETSTREAM_ABYTES
_FRAME_HEAD = 5


def _truncated() -> IntegrityError:
    return IntegrityError("the bundle is truncated or damaged")


# --- writing -------------------------------------------------------------------------------

class BundleWriter:
    """Frames in, sealed messages out. Holds one message back so the last is FINAL."""

    def __init__(self, out: BinaryIO, recipient_box_keys: list[bytes]) -> None:
        if not 1 <= len(recipient_box_keys) <= C.BUNDLE_STANZAS:
            raise ValueError("a bundle has 1 to 4 recipients")
        key = crypto.random_bytes(C.KEY_BYTES)
        slots = list(recipient_box_keys) + [crypto.box_public_key(crypto.new_box_secret())
                                            for _ in range(C.BUNDLE_STANZAS - len(recipient_box_keys))]
        crypto.shuffle(slots)
        self._out = out
        self._sealer = crypto.StreamSealer(key)
        prefix = b"".join(crypto.hidden_seal_to(k, key) for k in slots) + self._sealer.header
        out.write(prefix)
        self._ad: bytes | None = hashlib.sha256(prefix).digest()
        self._buffer = bytearray()
        self.size = len(prefix)

    def frame(self, frame_type: int, *parts: bytes) -> None:
        length = sum(len(p) for p in parts)
        self._buffer += bytes([frame_type]) + u32(length)
        for part in parts:
            self._buffer += part
        # Push every full message but keep at least one byte back: the last message must be
        # pushed as FINAL. One memmove per frame, not one per message.
        size = C.BUNDLE_MESSAGE_BYTES
        count = (len(self._buffer) - 1) // size
        if count > 0:
            with memoryview(self._buffer) as view:
                for i in range(count):
                    self._push(bytes(view[i * size:(i + 1) * size]), final=False)
            del self._buffer[:count * size]

    def _push(self, message: bytes, *, final: bool) -> None:
        sealed = self._sealer.push(message, ad=self._ad, final=final)
        self._ad = None
        self._out.write(sealed)
        self.size += len(sealed)

    def finish(self) -> None:
        """END frame, zeros to the end of the message, FINAL."""
        self.frame(C.FRAME_END)
        self._buffer += bytes(C.BUNDLE_MESSAGE_BYTES - len(self._buffer))
        self._push(bytes(self._buffer), final=True)
        self._buffer = bytearray()

    @staticmethod
    def sealed_size(plaintext_bytes: int) -> int:
        """File size of a bundle whose frames total `plaintext_bytes`."""
        messages = max(1, -(-plaintext_bytes // C.BUNDLE_MESSAGE_BYTES))
        return _PREFIX + messages * _SEALED_MESSAGE


def frame_overhead(body: int) -> int:
    return _FRAME_HEAD + body


# --- reading -------------------------------------------------------------------------------

class _PlainStream:
    """Authenticated plaintext of a bundle, pulled message by message."""

    def __init__(self, src: BinaryIO, opener: crypto.StreamOpener, ad: bytes, total: int) -> None:
        self._src, self._opener, self._ad = src, opener, ad
        self._remaining_messages = total
        self._buffer = bytearray()
        self.final_seen = False

    def _pull(self) -> None:
        if self.final_seen:
            raise FormatError("the bundle has frames after its end")
        sealed = self._src.read(_SEALED_MESSAGE)
        if len(sealed) != _SEALED_MESSAGE:
            raise _truncated()
        message, final = self._opener.pull(sealed, ad=self._ad)
        self._ad = None
        self._remaining_messages -= 1
        if final != (self._remaining_messages == 0):
            raise _truncated()  # FINAL early (bytes follow it) or never (cut short)
        self.final_seen = final
        self._buffer += message

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._pull()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def rest_is_zero(self) -> bool:
        while not self.final_seen:
            self._pull()
        return not any(self._buffer)


@dataclass(frozen=True)
class Manifest:
    """A manifest whose signature held, by a sender `trust` accepted."""

    raw: bytes
    bundle_id: str
    sender: IdentityCard
    recipients: tuple[str, ...]
    created: str
    sequence: dict[str, int]
    objects: tuple[tuple[bytes, str, int], ...]      # (id, kind, size)
    acks: tuple[str, ...]
    custody: tuple[dict[str, Any], ...]          # {event, inclusion}
    revocations: tuple[dict[str, Any], ...]
    heads: tuple[dict[str, Any], ...]            # signed tree heads the inclusions name
    consistency: dict[str, Any]                  # old size → proof, to the sender's head

    @property
    def total_object_bytes(self) -> int:
        return sum(size for _, _, size in self.objects)


def encode_manifest(*, bundle_id: str, sender: IdentityCard, recipients: list[str], created: str,
                    sequence: dict[str, int], objects: list[tuple[bytes, str, int]],
                    acks: list[str], custody: list[dict[str, Any]],
                    revocations: list[dict[str, Any]], heads: list[dict[str, Any]] = (),
                    consistency: dict[str, Any] | None = None) -> bytes:
    return canonical({
        "type": C.BUNDLE_TYPE, "version": C.FORMAT_VERSION, "bundle_id": bundle_id,
        "sender": sender.to_dict(), "recipients": sorted(recipients), "created": created,
        "sequence": sequence,
        "objects": [{"id": i.hex(), "kind": k, "size": s} for i, k, s in objects],
        "acks": sorted(acks), "custody": custody, "revocations": revocations,
        "heads": list(heads), "consistency": consistency or {}})


def _parse_manifest(raw: bytes) -> Manifest:
    value = parse_canonical(raw, what="bundle manifest")
    keys = {"type", "version", "bundle_id", "sender", "recipients", "created", "sequence",
            "objects", "acks", "custody", "revocations", "heads", "consistency"}
    if not isinstance(value, dict) or set(value) != keys:
        raise FormatError("bundle manifest has missing or unknown fields")
    if value["type"] != C.BUNDLE_TYPE or type(value["version"]) is not int \
            or value["version"] != C.FORMAT_VERSION:
        raise FormatError("bundle manifest type or version is not supported")
    from_hex(value["bundle_id"], length=32, what="bundle id")
    recipients = value["recipients"]
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= C.BUNDLE_STANZAS:
        raise FormatError("bundle manifest recipients are malformed")
    for fp in recipients:
        from_hex(fp, length=32, what="recipient fingerprint")
    sequence = value["sequence"]
    if not isinstance(sequence, dict) or set(sequence) != set(recipients) or not all(
            type(n) is int and n >= 1 for n in sequence.values()):
        raise FormatError("bundle manifest sequence numbers are malformed")
    objects = []
    for item in value["objects"] if isinstance(value["objects"], list) else [None]:
        if not (isinstance(item, dict) and set(item) == {"id", "kind", "size"}
                and item["kind"] in ("envelope", "chunk") and type(item["size"]) is int
                and 0 < item["size"] <= C.MAX_OBJECT_BYTES):
            raise FormatError("bundle manifest lists a malformed object")
        objects.append((from_hex(item["id"], length=32, what="object id"), item["kind"], item["size"]))
    if len({o[0] for o in objects}) != len(objects):
        raise FormatError("bundle manifest lists an object twice")
    for name in ("acks", "custody", "revocations", "heads"):
        if not isinstance(value[name], list):
            raise FormatError(f"bundle manifest {name} is not a list")
    for ack in value["acks"]:
        from_hex(ack, length=32, what="ack")
    if not all(isinstance(x, dict) for x in value["custody"] + value["revocations"] + value["heads"]):
        raise FormatError("bundle manifest custody, revocations or heads are malformed")
    if not all(set(x) == {"event", "inclusion"} for x in value["custody"]):
        raise FormatError("bundle manifest custody entries are malformed")
    if not isinstance(value["consistency"], dict):
        raise FormatError("bundle manifest consistency proofs are malformed")
    return Manifest(raw, value["bundle_id"], card_from_dict(value["sender"]), tuple(recipients),
                    parse_time(value["created"], what="bundle created"), sequence, tuple(objects),
                    tuple(value["acks"]), tuple(value["custody"]), tuple(value["revocations"]),
                    tuple(value["heads"]), value["consistency"])


class BundleReader:
    """Open a bundle addressed to `box_secret`; check it frame by frame as it streams.

    `sign_key_for(fingerprint)` returns the pinned signing key of a trusted sender or
    raises TrustError: the signature is checked before the manifest is parsed.
    """

    def __init__(self, src: BinaryIO, size: int, box_secret: bytes,
                 sign_key_for: Callable[[str], bytes | None]) -> None:
        if size < _PREFIX + _SEALED_MESSAGE or (size - _PREFIX) % _SEALED_MESSAGE:
            raise IntegrityError("not a bundle addressed to us, or truncated or damaged")
        prefix = src.read(_PREFIX)
        if len(prefix) != _PREFIX:  # the file shrank after its size was taken
            raise _truncated()
        key = None
        for i in range(C.BUNDLE_STANZAS):  # try all: which slot is ours must not show
            opened = crypto.hidden_open(box_secret, prefix[i * C.BUNDLE_STANZA_BYTES:
                                                           (i + 1) * C.BUNDLE_STANZA_BYTES])
            if opened is not None and len(opened) == C.KEY_BYTES and key is None:
                key = opened
        if key is None:
            raise TrustError("this bundle is not addressed to us (or it is not a bundle)")
        opener = crypto.StreamOpener(key, prefix[-C.SECRETSTREAM_HEADER_BYTES:])
        self._plain = _PlainStream(src, opener, hashlib.sha256(prefix).digest(),
                                   (size - _PREFIX) // _SEALED_MESSAGE)
        self.manifest = self._read_manifest(sign_key_for)
        self._consumed = False

    def _frame(self, expected: int, limit: int) -> bytes:
        head = self._plain.read(_FRAME_HEAD)
        if head[0] != expected:
            raise FormatError(f"bundle frame {head[0]} where frame {expected} was expected")
        length = read_u32(head, 1)
        if length > limit:  # refused before reading or allocating anything
            raise FormatError(f"a bundle frame claims {length:,} bytes, over the {limit:,} limit")
        return self._plain.read(length)

    def _read_manifest(self, sign_key_for: Callable[[str], bytes | None]) -> Manifest:
        signature = self._frame(C.FRAME_SIGNATURE, 32 + crypto.SIGNATURE_BYTES)
        if len(signature) != 32 + crypto.SIGNATURE_BYTES:
            raise FormatError("the bundle signature frame is malformed")
        sender_fp = signature[:32].hex()
        sign_key = sign_key_for(sender_fp)          # TrustError for unknown or revoked
        raw = self._frame(C.FRAME_MANIFEST, C.BUNDLE_MAX_MANIFEST)
        if sign_key is None:
            # Only `bundle inspect` passes a lenient lookup: the signature is then checked
            # against the manifest's own card, and nothing from it is stored.
            manifest = _parse_manifest(raw)
            sign_key = manifest.sender.sign_key
        try:
            crypto.verify(sign_key, purpose=C.BUNDLE, message=raw, signature=signature[32:])
        except SignatureError as e:
            raise SignatureError("the bundle's signature does not verify") from e
        manifest = _parse_manifest(raw)
        if manifest.sender.fingerprint != sender_fp or manifest.sender.sign_key != sign_key:
            raise SignatureError("the bundle's manifest names a sender other than its signer")
        return manifest

    def objects(self) -> Iterator[tuple[bytes, str, bytes]]:
        """Yield (id, kind, bytes) exactly as the manifest lists them, each id checked;
        then require END, zero padding, and the FINAL message at the end of the file."""
        if self._consumed:
            raise RuntimeError("objects() can be iterated once")
        self._consumed = True
        for object_id, kind, size in self.manifest.objects:
            body = self._frame(C.FRAME_OBJECT, C.BUNDLE_MAX_FRAME)
            if len(body) != 32 + size or body[:32] != object_id:
                raise FormatError("a bundle object does not match its manifest entry")
            data = body[32:]
            if hashlib.sha256(data).digest() != object_id:
                raise IntegrityError(f"bundle object {object_id.hex()[:16]} does not match its id")
            if kind == "envelope" and not data.startswith(C.ENVELOPE_MAGIC):
                raise FormatError(f"bundle object {object_id.hex()[:16]} is not an envelope")
            yield object_id, kind, data
        if self._frame(C.FRAME_END, 0) != b"" or not self._plain.rest_is_zero():
            raise FormatError("the bundle has bytes after its END frame")


def write_bundle(out: BinaryIO, *, recipient_box_keys: list[bytes], signing_seed: bytes,
                 signer_fingerprint: str, manifest: bytes,
                 objects: Iterator[tuple[bytes, bytes]]) -> int:
    """Write a whole bundle; `objects` yields (id, bytes) in manifest order. Returns its size."""
    writer = BundleWriter(out, recipient_box_keys)
    signature = crypto.sign(signing_seed, purpose=C.BUNDLE, message=manifest)
    writer.frame(C.FRAME_SIGNATURE, bytes.fromhex(signer_fingerprint), signature)
    writer.frame(C.FRAME_MANIFEST, manifest)
    for object_id, data in objects:
        writer.frame(C.FRAME_OBJECT, object_id, data)
    writer.finish()
    return writer.size
