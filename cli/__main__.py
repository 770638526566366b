"""`python -m cli` runs the testimony command (used by the tests as a real subprocess)."""

from .main import main

main()
