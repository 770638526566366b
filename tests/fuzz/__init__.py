"""Fuzzing: atheris harnesses for every parser of untrusted bytes (see tests/fuzz/README.md)."""
