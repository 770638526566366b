"""Run the fuzz harnesses one after another, each for a bounded time: `make fuzz`.

    .venv/bin/python -m tests.fuzz.run [--seconds 60] [--target bundle ...] [--out DIR]

Each harness runs in its own process with its seed corpus (tests/fuzz/corpus/<target>/),
read-only: libFuzzer writes the inputs it finds interesting to the first corpus folder
only, which is a new folder under DIR, so the checked-in corpus is never changed. Crash,
timeout and out-of-memory inputs are written to DIR/<target>/artifacts/ and the run
fails; turn each one into a regression test (tests/fuzz/README.md). DIR is a new
temporary folder unless --out is given; it is kept when something was found (or with
--out), removed otherwise. Prints the executions of each harness.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
REPO = FUZZ_DIR.parents[1]
TARGETS = ("bundle", "envelope", "card", "secret_key", "disclosure")
CORPUS_DIR = FUZZ_DIR / "corpus"

# Per-input limits: a parser that spins for 10 s on one input, or grows the process past
# 2 GiB, has a bug as real as an exception.
# formats.dict: JSON tokens, the keys of our documents and the magics, which random byte
# mutations rarely spell out.
DEFAULT_FLAGS = ("-timeout=10", "-rss_limit_mb=2048", "-keep_seed=1", "-print_final_stats=1",
                 f"-dict={FUZZ_DIR / 'formats.dict'}")


@dataclass
class Outcome:
    target: str
    returncode: int
    executions: int
    seconds: float           # wall time, start-up included
    per_second: int          # libFuzzer's own rate, start-up excluded
    new_units: int
    artifacts: list[Path]
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.artifacts


def _stat(text: str, name: str) -> int:
    found = re.findall(rf"^stat::{name}:\s*(\d+)", text, re.M)
    if found:
        return int(found[-1])
    if name == "number_of_executed_units":  # a crash ends the run before the stats
        runs = re.findall(r"^#(\d+)\s", text, re.M)
        return int(runs[-1]) if runs else 0
    return 0


def run_target(target: str, out: Path, *, seconds: float | None = None, runs: int | None = None,
               extra: tuple[str, ...] = (), timeout: float | None = None) -> Outcome:
    """Run one harness under `out/target/`; bounded by `seconds` and/or `runs`."""
    if target not in TARGETS:
        raise ValueError(f"unknown fuzz target {target!r}")
    base = out / target
    found, artifacts, tmp = base / "corpus", base / "artifacts", base / "tmp"
    for folder in (found, artifacts, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", f"tests.fuzz.fuzz_{target}", str(found), str(CORPUS_DIR / target),
           f"-artifact_prefix={artifacts}/", *DEFAULT_FLAGS, *extra]
    if seconds is not None:
        cmd.append(f"-max_total_time={max(1, round(seconds))}")  # 0 would mean no limit
    if runs is not None:
        cmd.append(f"-runs={runs}")
    env = {**os.environ, "TESTIMONY_FUZZ_TMP": str(tmp), "PYTHONPATH": str(REPO)}
    log = base / "fuzz.log"
    started = time.monotonic()
    with open(log, "wb") as f:
        p = subprocess.run(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    elapsed = time.monotonic() - started
    shutil.rmtree(tmp, ignore_errors=True)
    text = log.read_text("utf-8", "replace")
    return Outcome(target, p.returncode, _stat(text, "number_of_executed_units"), elapsed,
                   _stat(text, "average_exec_per_sec"), _stat(text, "new_units_added"),
                   sorted(artifacts.iterdir()), log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 60)),
                        help="time per harness (default $FUZZ_SECONDS or 60)")
    parser.add_argument("--target", action="append", choices=TARGETS,
                        help="run only this harness (repeatable; default: all)")
    parser.add_argument("--out", type=Path, help="keep corpora, artifacts and logs here")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="testimony-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for target in args.target or TARGETS:
        print(f"fuzzing {target} for {args.seconds:g} s ...", flush=True)
        o = run_target(target, out, seconds=args.seconds)
        outcomes.append(o)
        status = "ok" if o.ok else f"FAILED (exit {o.returncode}; see {o.log})"
        print(f"  {target:<11} {o.executions:>10,} executions in {o.seconds:5.0f} s "
              f"({o.per_second:,}/s), {o.new_units} new corpus units: {status}", flush=True)
        for a in o.artifacts:
            print(f"    found: {a}", flush=True)
    failed = [o for o in outcomes if not o.ok]
    if failed or args.out:
        print(f"corpora, artifacts and logs: {out}")
    else:
        shutil.rmtree(out, ignore_errors=True)
    total = sum(o.executions for o in outcomes)
    print(f"{total:,} executions; {len(failed)} of {len(outcomes)} harnesses failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
