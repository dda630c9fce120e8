"""Kokoro without the half second of silence it computes before every piece.

Why: Kokoro gives the padding token that opens every input about 20 frames (0.5 s)
of predicted duration, and its vocoder (90% of the compute, measured with
onnxruntime's profiler) renders that silence before the first phoneme, only for
KokoroEngine.audio to trim it. Capping the duration itself eats the onset ("Olá" is
heard as "Ah", "A capital" as "Pital", round-trip WER 0.08 -> 0.33), because the
text side needs the long pause. So the cut is made after the duration, prosody and
decoder stages, where the vocoder starts: its input columns for the opening pause
are dropped except the last ``KEEP_COLUMNS`` (100 ms). Measured on 8 sentences and
6 short first pieces (``/tmp`` runs, quiet machine, min of 2): the same round-trip
WER (0.104 both), short pieces 579 -> 435 ms p50, sentences 1427 -> 1085 ms.

Tried and not kept (2026-12-02, ``/tmp`` runs, idle machine): the graph cut in two at
the same place, the vocoder run on windows of its columns so a piece's audio starts
before the whole piece is rendered (first audio about 0.25 s instead of 0.5-0.8 s).
The vocoder's AdaIN layers normalize over the window's own length and its
convolutions reach far, so windows with 8 columns of context changed the words heard
("sou a Luna" -> "sou a tona"); 32 columns fixed that, at five times the compute of a
16-column window, and at 5.8 ms of vocoder per 12.5 ms column a 2-core CPU then falls
behind playback. Cutting the closing pause too saved nothing measurable on first
pieces (840 ms against 844 ms p50, 40 heads turn about): a 2-word head rarely ends on one.

The derived file is written once next to the assembled model (``model-lead-v1.onnx``)
from the verified original; it needs the ``onnx`` package, and without it (or if the
graph is not the one pinned) Kokoro runs the original file, as before.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("luna.tts.kokoro")

#: The vocoder's input: the decoder's last block, and the F0 curve (one column per 12.5 ms).
VOCODER_X = "/decoder/decoder/decode.3/Div_4_output_0"
VOCODER_F0 = "/decoder/decoder/Unsqueeze_output_0"
#: The vocoder's own consumers of those two (the decoder also reads F0: left alone).
VOCODER_NODES = ("/decoder/decoder/generator/LeakyRelu", "/decoder/decoder/generator/f0_upsamp/Resize")
#: Per-token durations in frames (two vocoder columns each), after rounding and clipping.
DURATIONS = "/encoder/Gather_output_0"
#: Columns of the opening pause kept, so the first phoneme starts as it does in the full render.
KEEP_COLUMNS = 8
#: The vocoder's inverse STFT starts with a click where its input now begins (up to full
#: scale in the first 10 ms); the kept pause is silent there in the full render, so
#: KokoroEngine zeroes these samples (20 ms at 24 kHz) of the copy's output.
EDGE_SAMPLES = 480
#: Bump when the rewrite changes: an older derived file is rebuilt.
VERSION = "1"


def lead_model(original: Path) -> Path:
    """The derived model beside ``original`` (built on first use); ``original`` when it cannot be."""
    dst = original.with_name(f"model-lead-v{VERSION}.onnx")
    if dst.exists() and dst.stat().st_mtime >= original.stat().st_mtime:
        return dst
    try:
        derive(original, dst)
    except Exception as exc:  # no onnx package, or a graph without these tensors: the original still speaks
        log.warning("Kokoro speaks from the original model, about 0.15-0.3 s slower to first audio: "
                    "its lead-cut copy could not be made (%s: %s)", type(exc).__name__, str(exc)[:160])
        return original
    return dst


def derive(src: Path, dst: Path) -> None:
    """Write ``src`` with the vocoder's input sliced from column max(0, 2 * d[0] - KEEP_COLUMNS)."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(str(src))
    g = m.graph
    users = [n for n in g.node if n.name in VOCODER_NODES]
    produced = {o for n in g.node for o in n.output}
    if len(users) != len(VOCODER_NODES) or not {VOCODER_X, VOCODER_F0, DURATIONS} <= produced:
        raise ValueError("not the pinned Kokoro graph")

    def const(name: str, value: int) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [1], [value]))

    # start = max(0, 2 * durations[0] - KEEP_COLUMNS): the opening pause's columns, less the kept ones
    common = [
        const("luna_lead_zero", 0), const("luna_lead_one", 1), const("luna_lead_two", 2),
        const("luna_lead_keep", KEEP_COLUMNS), const("luna_lead_axis", 2), const("luna_lead_end", 2**62),
        helper.make_node("Slice", [DURATIONS, "luna_lead_zero", "luna_lead_one", "luna_lead_zero"], ["luna_lead_d0"]),
        helper.make_node("Mul", ["luna_lead_d0", "luna_lead_two"], ["luna_lead_cols"]),
        helper.make_node("Sub", ["luna_lead_cols", "luna_lead_keep"], ["luna_lead_raw"]),
        helper.make_node("Max", ["luna_lead_raw", "luna_lead_zero"], ["luna_lead_start"]),
    ]
    sliced = {VOCODER_X: "luna_lead_x", VOCODER_F0: "luna_lead_f0"}
    nodes = list(g.node)
    out: list[onnx.NodeProto] = []
    for n in nodes:
        if n.name in VOCODER_NODES:
            if common:  # before the first vocoder node; the durations were computed long before
                out += common
                common = []
            for i, name in enumerate(n.input):
                if name in sliced:
                    out.append(helper.make_node("Slice", [name, "luna_lead_start", "luna_lead_end", "luna_lead_axis"],
                                                [sliced[name] + f"_{len(out)}"]))
                    n.input[i] = out[-1].output[0]
        out.append(n)
    del g.node[:]
    g.node.extend(out)
    # the export's recorded shapes assume the full length; left in, onnxruntime's memory
    # planner warns on every call and reallocates
    del g.value_info[:]
    tmp = dst.with_suffix(f".tmp{os.getpid()}")
    onnx.save(m, str(tmp))
    os.chmod(tmp, 0o600)
    os.replace(tmp, dst)
