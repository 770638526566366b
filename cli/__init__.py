"""The `testimony` command line: parse, prompt, call one archive function, print."""
