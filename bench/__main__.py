"""Run every benchmark, print each figure and write them all to bench/results.json.

Usage: ``python -m bench`` (or ``make bench``); ``python -m bench language`` runs only the
modules whose name contains "language".
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = argv[1:]
    results = []
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        if wanted and not any(w in info.name for w in wanted):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        print(f"== {info.name}", flush=True)
        for result in module.run():
            print(
                f"{result.name}: {result.value:.4g} {result.unit} "
                f"(baseline {result.baseline:.4g}, ratio {result.ratio:.3f}, "
                f"target {result.target})",
                flush=True,
            )
            results.append(result.as_dict())
    out = HERE / "results.json"
    previous = {}
    if wanted and out.exists():
        previous = {r["name"]: r for r in json.loads(out.read_text())}
    previous.update({r["name"]: r for r in results})
    out.write_text(json.dumps(list(previous.values()), indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
