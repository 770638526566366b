"""Print the key figures of a pytest-benchmark JSON file (from `make bench`).

    .venv/bin/python benchmarks/report.py benchmarks/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> None:
    data = json.loads(Path(path).read_text())
    machine = data.get("machine_info", {})
    print(f"{machine.get('cpu', {}).get('brand_raw', '?')}, python {machine.get('python_version', '?')}, "
          f"{data.get('datetime', '')}")
    print(f"{'benchmark':<40} {'min':>10} {'mean':>10} {'rounds':>6} {'MB/s mean':>10} {'MB/s best':>10}")
    for bench in data["benchmarks"]:
        stats, extra = bench["stats"], bench["extra_info"]
        print(f"{bench['name']:<40} {_time(stats['min']):>10} {_time(stats['mean']):>10} "
              f"{stats['rounds']:>6} {extra.get('mb_per_s_mean', ''):>10} {extra.get('mb_per_s_best', ''):>10}")
        rest = {k: v for k, v in extra.items() if not k.startswith("mb_per_s")}
        if rest:
            print(f"    {rest}")


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results.json")
