"""Kokoro's copy that skips rendering the opening pause: same words heard, less silence computed.

Real packaged model, real espeak-ng phonemes, judged by the packaged multilingual Whisper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.tts import kokoro_lead
from services.tts.kokoro import KokoroEngine, model_path


@pytest.fixture(scope="module")
def engines():
    return KokoroEngine(lead_cut=False), KokoroEngine()


def _raw(engine: KokoroEngine, text: str) -> np.ndarray:
    return engine.render(engine.tokens(text))


def test_the_derived_model_is_used_and_renders_less_silence_before_the_first_phoneme(engines):
    full, cut = engines
    assert Path(cut.path).name.startswith("model-lead") and Path(full.path).name == "model.onnx"
    for text in ("Olá! Eu", "A capital da França é Paris."):
        a, b = _raw(full, text), _raw(cut, text)
        saved = (len(a) - len(b)) / 24000
        assert 0.2 < saved < 0.8, (text, saved)  # the opening pause, less the 100 ms kept
        onset = lambda x: np.flatnonzero(np.abs(x) > 0.01)[0] / 24000  # noqa: E731
        # the voice starts where it starts in the full render, less the pause not rendered: no click at the cut
        assert abs(onset(b) - (onset(a) - saved)) < 0.015, (onset(a), onset(b), saved)


def test_the_same_portuguese_is_heard(engines):
    from services.stt.engines import load_fallback
    from tests.support.audio import accented_words, to_16k, wer

    judge, _ = load_fallback("pt")
    sentences = ["Olá! Eu sou a Luna.", "Claro, posso ajudar com isso.", "Brasília é a capital do Brasil."]
    heard = {}
    for name, eng in zip(("full", "cut"), engines, strict=True):
        hyp = [judge.transcribe(to_16k(eng.audio(s), 24000)).text for s in sentences]
        heard[name] = wer(" ".join(sentences), " ".join(hyp), accented_words)
    assert heard["cut"] <= heard["full"] + 0.05 and heard["cut"] <= 0.2, heard


def test_without_the_onnx_package_kokoro_speaks_from_the_original(monkeypatch, tmp_path, caplog):
    original = Path(model_path(lead_cut=False))
    fake = tmp_path / "model.onnx"
    fake.symlink_to(original)

    def no_onnx(src, dst):
        raise ModuleNotFoundError("No module named 'onnx'")

    monkeypatch.setattr(kokoro_lead, "derive", no_onnx)
    with caplog.at_level("WARNING", logger="luna.tts.kokoro"):
        assert kokoro_lead.lead_model(fake) == fake
    assert not list(tmp_path.glob("model-lead*"))
    assert [r.getMessage() for r in caplog.records] == [
        "Kokoro speaks from the original model, about 0.15-0.3 s slower to first audio: its lead-cut copy "
        "could not be made (ModuleNotFoundError: No module named 'onnx')"]


def test_a_graph_that_is_not_the_pinned_one_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    src = tmp_path / "model.onnx"
    onnx.save(helper.make_model(g), str(src))
    assert kokoro_lead.lead_model(src) == src
