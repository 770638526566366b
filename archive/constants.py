"""Every domain-separation label, format magic and size limit, in one place.

Label literals appear nowhere else: code passes these constants, and
tests/unit/test_constants.py asserts that they are distinct.
"""

LABEL_PREFIX = b"testimony/v1/"


def _label(purpose: str) -> bytes:
    return LABEL_PREFIX + purpose.encode("ascii") + b"\0"


# Purposes of signatures, keyed hashes and derived keys (DESIGN.md, format.md §2).
FINGERPRINT = _label("fingerprint")
IDENTITY = _label("identity")
REVOCATION = _label("revocation")
STATEMENT = _label("statement")
RECORD = _label("record")
FIELD = _label("field")
CHUNK = _label("chunk")
PACK = _label("pack")
BUNDLE = _label("bundle")
CUSTODY = _label("custody")
TREE_HEAD = _label("tree-head")
INDEX_META = _label("index/meta")
INDEX_DEDUP = _label("index/dedup")
INDEX_PEER = _label("index/peer")
INDEX_JOURNAL = _label("index/journal")

ALL_LABELS = (
    FINGERPRINT, IDENTITY, REVOCATION, STATEMENT, RECORD, FIELD, CHUNK, PACK,
    BUNDLE, CUSTODY, TREE_HEAD, INDEX_META, INDEX_DEDUP, INDEX_PEER, INDEX_JOURNAL,
)

# AES-GCM associated data of every chunk object (not a prefix: a fixed AAD).
CHUNK_AAD = b"testimony/v1/chunk"

# Format magics (clear, except bundles which have none).
ENVELOPE_MAGIC = b"TESTIMONY-ENVELOPE-1\n"
PACK_MAGIC = b"TESTIMONY-PACK-1\n"
JOURNAL_MAGIC = b"TESTIMONY-JOURNAL-1\n"
SECRET_KEY_MAGIC = b"TESTIMONY-SECRET-1\n"

# Format versions carried inside JSON documents.
IDENTITY_TYPE = "testimony/identity"
REVOCATION_TYPE = "testimony/revocation"
STATEMENT_TYPE = "testimony/statement"
FORMAT_VERSION = 1

# Argon2id bounds a reader enforces before deriving (a hostile key file must not
# make us allocate 64 GiB or spin for an hour).
OPSLIMIT_MIN, OPSLIMIT_MAX = 2, 8
MEMLIMIT_MIN, MEMLIMIT_MAX = 64 * 1024 * 1024, 1024 * 1024 * 1024
KDF_PROFILES = {
    "interactive": (2, 64 * 1024 * 1024),
    "moderate": (3, 256 * 1024 * 1024),
    "sensitive": (4, 1024 * 1024 * 1024),
}
DEFAULT_KDF = "moderate"
SALT_BYTES = 16
KEY_BYTES = 32

# Passphrases.
MIN_PASSPHRASE_CHARS = 12

# Statements and envelopes.
FIELD_SALT_BYTES = 16
FIELD_NAMES = ("title", "body", "language", "tags", "witness", "location")
ATTACHMENT_FIELD = "attachment"
CONSENT_LEVELS = ("internal", "legal", "public")
RECORD_KINDS = ("testimony", "evidence")
ENVELOPE_MIN_STANZAS = 4
ENVELOPE_MAX_STANZAS = 64
ENVELOPE_PAD_MULTIPLE = 1024
SEALED_BOX_BYTES = 32 + 32 + 16          # ephemeral key, data key, MAC
XCHACHA_NONCE_BYTES = 24
MAX_ENVELOPE_BYTES = 64 * 1024 * 1024    # checked before allocating

# Evidence chunks.
CHUNK_SIZE = 1024 * 1024
GCM_TAG_BYTES = 16

# Pack files.
PACK_TARGET_BYTES = 16 * 1024 * 1024
MAX_OBJECT_BYTES = 16 * 1024 * 1024 + 1024 * 1024   # a chunk object, or an envelope

# Ids typed by people.
MIN_ID_PREFIX = 8

# Index.
INDEX_SCHEMA_VERSION = 4   # = len(index.MIGRATIONS); tests/unit/test_index.py checks it

# Bundles (format.md §bundle). No magic and no clear length: only random-looking bytes.
BUNDLE_TYPE = "testimony/bundle"
BUNDLE_STANZAS = 4
BUNDLE_STANZA_BYTES = 32 + 16 + 32         # Elligator representative, box MAC, bundle key
BUNDLE_MESSAGE_BYTES = 64 * 1024           # plaintext of every secretstream message
SECRETSTREAM_HEADER_BYTES = 24
SECRETSTREAM_ABYTES = 17
BUNDLE_MAX_MANIFEST = 64 * 1024 * 1024
BUNDLE_MAX_FRAME = 32 + MAX_OBJECT_BYTES   # an object frame: 32-byte id + any object a pack may hold
FRAME_SIGNATURE, FRAME_MANIFEST, FRAME_OBJECT, FRAME_END = 1, 2, 3, 4

# Custody events.
CUSTODY_TYPE = "testimony/custody"
TREE_HEAD_TYPE = "testimony/tree-head"
DISCLOSURE_TYPE = "testimony/disclosure"
CUSTODY_EVENTS = ("recorded", "imported", "exported", "disclosed")

# OpenSSH signatures of statements (PROTOCOL.sshsig).
SSHSIG_NAMESPACE = "testimony"

# Peers.
PEER_ROLES = ("field", "archivist", "lawyer", "courier")
LOCAL_REVOCATION_TYPE = "testimony/peer-revocation"
