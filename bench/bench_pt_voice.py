"""Portuguese ears and voice offline (issue 12): WER of the packaged multilingual Whisper base through
Luna's own path against the bare model, and round-trip intelligibility of the offline pt voices.

Ears: 20 Portuguese utterances (the seed's vocabulary: SQL, pandas, dbt, BigQuery,
Power BI) synthesized by four voices (Kokoro jf_gongitsune 1.0, jm_kumo 0.9,
jf_nezumi 1.1, espeak-ng pt-br at 140 wpm), played once at real time through capture (a WAV file)
-> silero VAD -> the stt service as real processes (``stt_pt_wer``), and once straight
into the same model, one call per utterance (``stt_pt_wer_bare``). Both are corpus WER
(the turns joined in order; a transcript that ``continues`` the one before replaces it, as
it does in the brain's history and on screen), so a split inside an utterance costs only
the words Whisper gets wrong for lack of the other half.

Voice: each sentence spoken by a candidate and transcribed by the same Whisper base
with language="pt" (a weak judge of synthetic speech: compare side by side, in the
same run). ``tts_pt_roundtrip_wer`` is the voice Luna uses (Kokoro jf_gongitsune
through KokoroEngine, with speech_pt), ``tts_pt_roundtrip_wer_baseline`` the bundled
English Piper voice reading the same text, what Luna did before. First-chunk latency
is what the tts service waits for: clauses() then the engine's first chunk; Kokoro
with the single 4-word head of before (``head_words=0``) is timed turn about with
it, sentence by sentence (``_one_head`` keys), so both see the same load.
``LUNA_PT_VOICE_ONLY=1`` skips the ears (their real-time run takes minutes).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SENTENCES = [
    "Qual é a capital da França?",
    "Oi Luna, tudo bem com você hoje?",
    "Escreva uma consulta SQL que conta os pedidos por cliente.",
    "Como eu leio um arquivo CSV com o pandas?",
    "O modelo do dbt falhou no teste de chave única.",
    "Quanto custa rodar essa consulta no BigQuery?",
    "Crie um painel no Power BI com as vendas do mês.",
    "Abra o terminal e mostre os arquivos da minha pasta.",
    "Amanhã vai chover em São Paulo?",
    "Me lembra de ligar para o médico às três da tarde.",
    "Qual é a diferença entre uma lista e uma tupla em Python?",
    "Junte as duas tabelas pelo código do produto.",
    "Desculpe, eu não entendi a sua pergunta.",
    "Quantos habitantes tem o Brasil?",
    "Faça um gráfico de barras com a receita por região.",
    "Traduza essa frase para o inglês, por favor.",
    "O pipeline de dados terminou sem erros esta noite.",
    "Agrupe o dataframe por data e some as vendas.",
    "Qual foi o resultado do jogo de ontem?",
    "Obrigado, Luna, por hoje é só isso.",
]
RATE = 16000
GAP_S = 1.6


def pt_wer(ref: str, hyp: str) -> float:
    """Word error rate over words with their accents (tests.support.audio's one Levenshtein)."""
    from tests.support.audio import accented_words, wer

    return wer(ref, hyp, accented_words)


def _corpus_wer(refs: list[str], hyps: list[str]) -> float:
    return pt_wer(" ".join(refs), " ".join(hyps))


def _espeak(text: str, speed: int = 140) -> np.ndarray:
    from tests.support.audio import espeak_speech, to_16k

    return to_16k(*espeak_speech(text, "pt-br", speed))


def _test_set(styles: dict[str, Any]) -> list[tuple[str, str, np.ndarray]]:
    from services.tts.kokoro import KokoroEngine
    from tests.support.audio import to_16k

    k = styles["jf_gongitsune"]
    voices = [("kokoro jf_gongitsune 1.0", lambda s: to_16k(k.audio(s), 24000))]
    for style, speed in (("jm_kumo", 0.9), ("jf_nezumi", 1.1)):
        e = styles.get(style) or KokoroEngine(style, speed=speed)
        styles[style] = e
        voices.append((f"kokoro {style} {speed}", lambda s, e=e: to_16k(e.audio(s), 24000)))
    voices.append(("espeak-ng pt-br 140", _espeak))
    return [(s, voices[i % len(voices)][0], voices[i % len(voices)][1](s)) for i, s in enumerate(SENTENCES)]


async def _through_luna(wav: Path, n: int, data_home: str, tmp: Path) -> tuple[list[str], int]:
    """capture (CAPTURE_FILE) -> VAD -> stt as real processes on a private bus: the turns as heard, in
    order, and how many transcripts went on with the one before (``continues``)."""
    from tests.support.voicekit import Driver

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PYTHONUNBUFFERED": "1",
           "STT_LOCAL": "small", "STT_LANGUAGE": "pt", "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": data_home}
    procs = []
    try:
        async with Driver() as d:
            for name, extra in (("stt", {}), ("capture", {"CAPTURE_FILE": str(wav)})):
                procs.append(subprocess.Popen([sys.executable, "-m", f"services.{name}"], env={**env, **extra},
                                              stdout=(tmp / f"{name}.out").open("wb"), stderr=subprocess.STDOUT))
                await d.ready(name, timeout=120)
            # real time, as a person speaks: CAPTURE_FAST would queue more than stt's MAX_PENDING utterances
            deadline = time.monotonic() + 300
            last, seen = time.monotonic(), 0
            while time.monotonic() < deadline:
                got = len(d.of("transcript"))
                if got != seen:
                    seen, last = got, time.monotonic()
                ended = "file" in str(((d.heartbeat("capture") or {}).get("info") or {}).get("ended", ""))
                if (got >= n or ended) and time.monotonic() - last > 8.0:
                    break
                await asyncio.sleep(0.25)
            heard = d.heard()  # in the order spoken (one stt worker), a continued turn replaced by its whole
            if not heard:  # once in a bench run (not reproduced): say what each side saw, not only WER 1.0
                hb = {s: (d.heartbeat(s) or {}).get("counters") for s in ("stt", "capture")}
                log = (tmp / "stt.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"no transcript through Luna in 300 s; {len(d.events)} events seen, last "
                                   f"counters {hb}; stt's output ends:\n{log}")
            return heard, sum(1 for f in d.of("transcript") if f.get("continues"))
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def _roundtrip(judge: Any, speak: Any, sentences: list[str]) -> tuple[float, float, list[str]]:
    """(corpus WER, real-time factor, transcripts) of ``speak`` (text -> 16 kHz int16) judged by ``judge``."""
    hyps, syn_s, audio_s = [], 0.0, 0.0
    for s in sentences:
        t0 = time.perf_counter()
        a = speak(s)
        syn_s += time.perf_counter() - t0
        audio_s += len(a) / RATE
        hyps.append(judge.transcribe(a).text)
    return _corpus_wer(sentences, hyps), syn_s / max(audio_s, 1e-9), hyps


def _new_reply(engine: Any) -> Any:
    """Each sentence is timed and heard as a reply of its own, after silence: nothing queued ahead
    (Kokoro's Pacer would otherwise give it the longer head of a reply's later sentences)."""
    if hasattr(engine, "nothing_queued"):
        engine.nothing_queued()
    return engine


def _engine_audio(engine: Any, text: str) -> np.ndarray:
    from services.tts.pieces import clauses

    _new_reply(engine)
    from tests.support.audio import to_16k

    chunks = [(r, a) for piece in clauses(text) for r, a in engine.synthesize(piece, lambda: False)]
    return to_16k(np.concatenate([a for _, a in chunks]), chunks[0][0])


def _first_chunk_ms(engine: Any, text: str) -> float:
    from services.tts.pieces import clauses

    _new_reply(engine)
    t0 = time.perf_counter()
    next(iter(engine.synthesize(clauses(text)[0], lambda: False)))
    return (time.perf_counter() - t0) * 1000


def _timed_pass(judge: Any, utts: list[tuple[str, str, np.ndarray]], short: bool) -> tuple[list[str], list[float]]:
    """The bare model over the set, with or without the short encoder window, and its ms per utterance."""
    judge.short_context = short
    texts, ms = [], []
    for _, _, a in utts:
        t0 = time.perf_counter()
        texts.append(judge.transcribe(a).text)
        ms.append((time.perf_counter() - t0) * 1000)
    judge.short_context = True
    return texts, ms


def _ears(judge: Any, styles: dict[str, Any]) -> dict[str, float]:
    from tests.support.audio import silence, write_wav

    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-pt-"))
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    utts = _test_set(styles)
    refs = [s for s, _, _ in utts]
    bare, short_ms = _timed_pass(judge, utts, True)
    full, full_ms = _timed_pass(judge, utts, False)  # baseline: faster-whisper's own 30 s window
    parts = [silence(0.8)]
    for _, _, a in utts:
        parts += [a, silence(GAP_S)]
    wav = write_wav(tmp / "pt_questions.wav", np.concatenate(parts), RATE)
    old = {k: os.environ.get(k) for k in ("LUNA_RUN_DIR", "LUNA_LOG_DIR", "LUNA_ENV_FILE")}
    os.environ.update(LUNA_RUN_DIR=str(tmp / "run"), LUNA_LOG_DIR=str(tmp / "logs"),
                      LUNA_ENV_FILE=str(tmp / "none.env"))
    try:
        luna, continued = asyncio.run(_through_luna(wav, len(utts), data_home, tmp))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    figs: dict[str, float] = {
        "stt_pt_wer": round(_corpus_wer(refs, luna), 4),
        "stt_pt_wer_bare": round(_corpus_wer(refs, bare), 4),
        "stt_pt_wer_bare_30s_window": round(_corpus_wer(refs, full), 4),
        "stt_pt_compute_ms_p50": round(float(np.median(short_ms)), 1),
        "stt_pt_compute_ms_p50_30s_window": round(float(np.median(full_ms)), 1),
        "stt_pt_utterances": len(utts),
        "stt_pt_transcripts": len(luna),
        "stt_pt_continued": continued,
    }
    for voice in dict.fromkeys(v for _, v, _ in utts):
        idx = [i for i, (_, v, _) in enumerate(utts) if v == voice]
        slug = voice.split()[1] if voice.startswith("kokoro") else "espeak_pt_br"
        figs[f"stt_pt_wer_bare_{slug}"] = round(_corpus_wer([refs[i] for i in idx],
                                                                        [bare[i] for i in idx]), 4)
    print(f"ears: {len(utts)} utterances, {len(luna)} turns through capture -> VAD -> stt ({continued} went on "
          f"with the one before); "
          f"WER Luna {figs['stt_pt_wer']:.3f} vs bare model {figs['stt_pt_wer_bare']:.3f} "
          f"({figs['stt_pt_wer'] - figs['stt_pt_wer_bare']:+.3f}); bare model on the 10 s window "
          f"{figs['stt_pt_compute_ms_p50']:.0f} ms p50, WER {figs['stt_pt_wer_bare']:.3f}, vs the 30 s window "
          f"{figs['stt_pt_compute_ms_p50_30s_window']:.0f} ms, WER {figs['stt_pt_wer_bare_30s_window']:.3f} "
          f"({figs['stt_pt_compute_ms_p50_30s_window'] / figs['stt_pt_compute_ms_p50']:.2f}x)")
    for (ref, voice, _), b in zip(utts, bare, strict=True):
        print(f"  [{voice}] {ref!r} -> bare {b!r}")
    print("  luna:", luna)

    return figs


def main() -> dict[str, float]:
    from services.stt.engines import load_local
    from services.tts.engines import PiperEngine, bundled_voice
    from services.tts.kokoro import KokoroEngine

    load_start = os.getloadavg()[0]
    judge, why = load_local("small", "int8", "pt")
    assert judge.model.startswith("whisper-base"), judge.model
    styles: dict[str, Any] = {"jf_gongitsune": KokoroEngine("jf_gongitsune")}
    # LUNA_PT_VOICE_ONLY=1: the voice figures alone (the ears' real-time run takes minutes)
    figs: dict[str, float] = {} if os.environ.get("LUNA_PT_VOICE_ONLY") == "1" else _ears(judge, styles)

    # -- voice ----------------------------------------------------------------------------
    from tests.support.audio import to_16k

    joe = PiperEngine(bundled_voice(), "en_US-joe-medium (bundled)")
    kokoro = styles["jf_gongitsune"]
    one_head = KokoroEngine("jf_gongitsune", head_words=0)  # before: one 4-word head, then the whole rest
    cands = {
        "kokoro_jf_gongitsune": lambda s: _engine_audio(kokoro, s),  # what Luna uses
        "kokoro_jf_gongitsune_one_head": lambda s: _engine_audio(one_head, s),
        "piper_joe_en": lambda s: _engine_audio(joe, s),  # the baseline: what Luna did before
        "espeak_pt_br": lambda s: _espeak(s, 150),
        "piper_joe_pt_phonemes": lambda s: _joe_pt(joe, s, to_16k),
    }
    if os.environ.get("LUNA_PT_VOICE_ALL") == "1":  # the male Kokoro style too (3-4 more minutes on a busy CPU)
        cands["kokoro_jm_kumo"] = lambda s: _engine_audio(styles["jm_kumo"], s)
    rt: dict[str, tuple[float, float]] = {}
    for name, speak in cands.items():
        w, rtf, hyps = _roundtrip(judge, speak, SENTENCES)
        rt[name] = (w, rtf)
        figs[f"tts_pt_roundtrip_wer_{name}"] = round(w, 4)
        print(f"voice {name:24s} round-trip WER {w:.3f}  RTF {rtf:.2f}")
        for ref, hyp in zip(SENTENCES, hyps, strict=True):
            print(f"    {ref!r} -> {hyp!r}")
    figs["tts_pt_roundtrip_wer"] = figs["tts_pt_roundtrip_wer_kokoro_jf_gongitsune"]
    figs["tts_pt_roundtrip_wer_baseline"] = figs["tts_pt_roundtrip_wer_piper_joe_en"]
    figs["tts_pt_rtf"] = round(rt["kokoro_jf_gongitsune"][1], 3)
    # Luna's growing pieces and the single head of before turn about, sentence by sentence: the same load for both
    firsts: list[float] = []
    pfirsts: list[float] = []
    for i, s in enumerate(SENTENCES):
        for eng, out in ((kokoro, firsts), (one_head, pfirsts))[::1 if i % 2 else -1]:
            out.append(_first_chunk_ms(eng, s))
    firsts.sort()
    pfirsts.sort()
    figs["tts_pt_first_chunk_ms"] = round(firsts[len(firsts) // 2], 1)
    figs["tts_pt_first_chunk_p95_ms"] = round(firsts[min(len(firsts) - 1, int(0.95 * len(firsts)))], 1)
    figs["tts_pt_first_chunk_ms_one_head"] = round(pfirsts[len(pfirsts) // 2], 1)
    jfirst = sorted(_first_chunk_ms(joe, s) for s in SENTENCES)
    figs["tts_pt_first_chunk_ms_baseline"] = round(jfirst[len(jfirst) // 2], 1)
    figs["pt_voice_load_avg"] = round(max(load_start, os.getloadavg()[0]), 2)
    ratio = figs["tts_pt_roundtrip_wer"] / max(figs["tts_pt_roundtrip_wer_baseline"], 1e-9)
    print(f"voice: Kokoro {figs['tts_pt_roundtrip_wer']:.3f} vs English voice {figs['tts_pt_roundtrip_wer_baseline']:.3f} "
          f"round-trip WER ({ratio:.2f}x the baseline's errors; target <= 0.5x); first chunk p50 "
          f"{figs['tts_pt_first_chunk_ms']:.0f} ms (p95 {figs['tts_pt_first_chunk_p95_ms']:.0f}, "
          f"{figs['tts_pt_first_chunk_ms'] / max(figs['tts_pt_first_chunk_ms_one_head'], 1e-9):.2f}x the single "
          f"head's {figs['tts_pt_first_chunk_ms_one_head']:.0f}, English voice "
          f"{figs['tts_pt_first_chunk_ms_baseline']:.0f}); load average {figs['pt_voice_load_avg']}")
    return figs


def _joe_pt(joe: Any, text: str, to_16k: Any) -> np.ndarray:
    """The English voice fed espeak-ng's pt-br phonemes (an option the issue measured)."""
    cfg = joe.voice.config
    old = cfg.espeak_voice
    cfg.espeak_voice = "pt-br"
    try:
        a = np.concatenate([c.audio_int16_array for c in joe.voice.synthesize(text)])
    finally:
        cfg.espeak_voice = old
    return to_16k(a, joe.rate)


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
