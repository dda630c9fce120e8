"""Benchmarks (``make bench``): each prints its figures and merges flat keys into bench/results.json."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def write_results(figures: dict[str, float]) -> None:
    """Merge ``figures`` into bench/results.json, keeping keys other benches wrote."""
    old = {}
    if RESULTS.exists():
        try:
            old = json.loads(RESULTS.read_text())
        except ValueError:
            old = {}
    old.update(figures)
    RESULTS.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(figures)} figures to {RESULTS}")
