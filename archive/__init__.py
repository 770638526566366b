"""testimony: a secure, offline-first archive of testimonies and evidence.

The library behind the `testimony` command. `archive.api.Archive` is the facade;
everything else is one concept per module (see docs/format.md for the formats).
"""

__version__ = "0.1.0"
