"""Project Wycheproof vectors run through archive/crypto.py (issue 6, hardening)."""
