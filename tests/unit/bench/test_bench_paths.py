"""Every bench imports, and every file or folder it names at module level is there.

Why: benches are not tests, so nothing ran them when the tests moved to tests/support/;
bench_wake kept reading tests/data/intents.tsv and failed in every `make bench` until a
run of it was read. This catches a moved data file without running a bench.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench.__main__ import BENCHES


@pytest.mark.parametrize("name", BENCHES)
def test_a_bench_imports_and_its_paths_exist(name: str) -> None:
    mod = importlib.import_module(f"bench.{name}")
    assert callable(getattr(mod, "main", None)), f"bench.{name} has no main()"
    missing = {k: str(v) for k, v in vars(mod).items() if isinstance(v, Path) and not v.exists()}
    assert not missing, f"bench.{name} names paths that are not there: {missing}"
