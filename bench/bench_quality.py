"""Conversation quality of the offline brain, per model: ``python -m bench bench_quality``.

Runs every prompt of tests/support/data/pt_quality.tsv (mostly pt-BR; the English rows under
``LANGUAGE=en``) through the embedded engine the way the brain does (the GGUF's own chat
template, the family's sampling, the default soul, Luna's loop guard), once per model:
the packaged Qwen2.5-Coder-0.5B (the offline default) and SmolLM2-135M (the last
resort, the baseline in the same run). ``LLM_GGUF`` adds a third model under
``_custom`` (or ``_$PT_BENCH_CUSTOM_NAME``); ``PT_BENCH_MODELS=qwen05b,custom`` runs only those
models and ``PT_BENCH_IDS=quem,cap_brasil`` only those prompts; ``PT_BENCH_SOUL_AB=1`` runs the
packaged Qwen again with the soul the default replaced (``_qwen05b_prevsoul``). Scores are explained in
tests/support/ptquality.py.

Keys, per model suffix (``_qwen05b``, ``_smollm2``): ``pt_reply_lang_ratio`` (replies in
the expected language), ``pt_fact_accuracy``, ``pt_identity_ratio`` (says she is Luna),
``pt_code_ok_ratio``, ``pt_degenerate_replies`` (as kept, after the guard) and
``pt_degenerate_raw`` (the model alone: its output read on to its own end, up to
256 tokens: the no-guard baseline), ``pt_loop_cuts`` / ``pt_length_cuts``
(replies the guard ended), ``pt_called_user_luna`` (replies whose model output addressed the user
as "Luna", which services/brain/selfname.py takes out), ``pt_first_token_p50_s``, ``pt_reply_p50_s``, ``pt_reply_p95_s``.
Every model runs with the brain's thread count (1 on 2 cores) on whatever else the
machine is doing: the figures are as noisy as the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any

from services.brain import packaged_model
from services.brain.providers.embedded import EmbeddedProvider
from services.brain.providers.gguf import default_gguf
from tests.support.ptquality import Reply, correct, degenerate, lang_ok, load_set, luna_reply

MAX_TOKENS = 256
#: A reply still running after this long counts as a "timeout" cut (the 1.5B on a loaded CPU).
REPLY_TIMEOUT_S = 300.0


def models() -> list[tuple[str, str]]:
    """(suffix, LLM_GGUF value) for each model to score."""
    out = []
    if packaged_model.installed():
        out.append(("qwen05b", ""))
    smol = default_gguf()
    if smol is not None:
        out.append(("smollm2", str(smol)))
    if os.environ.get("LLM_GGUF"):
        out.append((os.environ.get("PT_BENCH_CUSTOM_NAME", "custom"), os.environ["LLM_GGUF"]))
    only = [m for m in os.environ.get("PT_BENCH_MODELS", "").split(",") if m]
    return [m for m in out if not only or m[0] in only]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else 0.0


def score(replies: list[Reply], suffix: str) -> dict[str, float]:
    def ratio(kind: str | None, ok) -> float:
        rows = [r for r in replies if kind is None or r.item.kind == kind]
        return round(sum(bool(ok(r)) for r in rows) / len(rows), 3) if rows else 0.0

    return {
        f"pt_reply_lang_ratio_{suffix}": ratio(None, lambda r: lang_ok(r.text, r.item.lang)),
        f"pt_fact_accuracy_{suffix}": ratio("fact", lambda r: correct(r.item, r.text)),
        f"pt_identity_ratio_{suffix}": ratio("identity", lambda r: correct(r.item, r.text)),
        f"pt_code_ok_ratio_{suffix}": ratio("code", lambda r: correct(r.item, r.text)),
        f"pt_degenerate_replies_{suffix}": sum(degenerate(r.text) for r in replies),
        f"pt_degenerate_raw_{suffix}": sum(degenerate(r.raw) for r in replies),
        f"pt_called_user_luna_{suffix}": sum(r.called_user_luna for r in replies),
        f"pt_loop_cuts_{suffix}": sum(r.cut == "loop" for r in replies),
        f"pt_length_cuts_{suffix}": sum(r.cut == "length" for r in replies),
        f"pt_timeouts_{suffix}": sum(r.cut == "timeout" for r in replies),
        f"pt_first_token_p50_s_{suffix}": round(statistics.median(r.first_s for r in replies), 3),
        f"pt_reply_p50_s_{suffix}": round(statistics.median(r.total_s for r in replies), 3),
        f"pt_reply_p95_s_{suffix}": round(pct([r.total_s for r in replies], 0.95), 3),
        f"pt_n_{suffix}": len(replies),
    }


async def run_model(suffix: str, gguf: str, show: bool = True, soul: str = "") -> dict[str, float]:
    p = EmbeddedProvider(gguf)
    t0 = time.monotonic()
    await p.load()
    load_s = time.monotonic() - t0
    replies = []
    try:
        ids = [i for i in os.environ.get("PT_BENCH_IDS", "").split(",") if i]
        for item in [i for i in load_set() if not ids or i.id in ids]:
            r = await luna_reply(p, item, max_tokens=MAX_TOKENS, raw_to_end=True, timeout=REPLY_TIMEOUT_S, soul=soul)
            replies.append(r)
            if show:
                flags = ("lang " if not lang_ok(r.text, item.lang) else "") + ("DEGEN " if degenerate(r.text) else "")
                if item.expect and item.kind != "chat":
                    flags += "ok " if correct(item, r.text) else "WRONG "
                print(f"  {suffix:8} {item.id:14} {r.first_s:5.2f}s {r.total_s:5.2f}s {r.cut or '-':6} {flags:12} "
                      f"{' '.join(r.text.split())[:90]!r}", flush=True)
    finally:
        await p.aclose()
    out = score(replies, suffix)
    out[f"pt_load_s_{suffix}"] = round(load_s, 2)
    return out


def main() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for suffix, gguf in models():
        print(f"-- {suffix} ({gguf or 'packaged'})", flush=True)
        figures.update(asyncio.run(run_model(suffix, gguf)))
    if os.environ.get("PT_BENCH_SOUL_AB") == "1":  # the soul before this one, same model, same run
        from services.brain.soul import _OLD_DEFAULTS

        print("-- qwen05b with the previous soul", flush=True)
        figures.update(asyncio.run(run_model("qwen05b_prevsoul", "", soul=_OLD_DEFAULTS[0])))
    base, best = "smollm2", "qwen05b"
    for key in ("pt_reply_lang_ratio", "pt_fact_accuracy", "pt_identity_ratio", "pt_degenerate_replies",
                "pt_reply_p50_s"):
        if f"{key}_{base}" in figures and f"{key}_{best}" in figures:
            print(f"{key}: {best} {figures[f'{key}_{best}']} vs {base} {figures[f'{key}_{base}']} (baseline)")
    try:
        figures["pt_bench_loadavg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return figures


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
    sys.exit(0)
