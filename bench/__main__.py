"""Run every benchmark: ``python -m bench [name ...]`` (``make bench``)."""

from __future__ import annotations

import importlib
import sys

from bench import write_results

BENCHES = ["bench_bus", "bench_ttfa", "bench_ui", "bench_soak", "bench_aec", "bench_quality", "bench_satellite",
           "bench_pt_voice", "bench_turn", "bench_wake"]


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    failed = []
    for name in names:
        try:
            mod = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"== {name}: not available ({exc})")
            continue
        print(f"== {name}")
        try:
            write_results(mod.main())
        except Exception as exc:  # one bench failing must not hide the others' figures
            print(f"== {name} failed: {exc}")
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
