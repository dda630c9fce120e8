"""How llama.cpp runs on Luna's shared CPU: sampling per model family, thread count, priority.

Why apart from the engine (:mod:`.embedded`): these are measured settings, each with
its reason, and they change when a model family or the machine does, not when the
way tokens are streamed does.
"""

from __future__ import annotations

import os
import threading

#: Sampling per model family (the values each family's model card / generation_config recommends,
#: with a firmer repeat penalty for the tiny models that loop). ``temperature`` is a ceiling: the
#: user's CHAT_TEMPERATURE / CODE_TEMPERATURE applies when it is lower.
SAMPLING: dict[str, dict[str, float]] = {
    # Qwen2.5(-Coder)-Instruct generation_config.json: temperature 0.7, top_p 0.8, top_k 20, repetition 1.1
    "qwen2": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0, "repeat_penalty": 1.1},
    # SmolLM2 card: temperature 0.2, top_p 0.9; 135M loops without a strong penalty
    "smollm": {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.3},
    # Gemma 3: temperature 1.0, top_k 64, top_p 0.95, no penalty
    "gemma3": {"temperature": 1.0, "top_p": 0.95, "top_k": 64, "min_p": 0.0, "repeat_penalty": 1.0},
    # Llama 3.2 Instruct: temperature 0.6, top_p 0.9
    "llama": {"temperature": 0.6, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1},
    "default": {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1},
}


def family(metadata: dict[str, str], filename: str = "") -> str:
    """The :data:`SAMPLING` key for a GGUF, from its metadata (name first: SmolLM2 is a ``llama``)."""
    name = " ".join(metadata.get(k, "") for k in ("general.name", "general.basename")).lower() + filename.lower()
    if "smollm" in name:
        return "smollm"
    arch = metadata.get("general.architecture", "").lower()
    if arch.startswith("qwen"):
        return "qwen2"
    if arch.startswith("gemma"):
        return "gemma3"
    return arch if arch in SAMPLING else "default"


def sampling(fam: str, temperature: float) -> dict[str, float]:
    opts = dict(SAMPLING.get(fam, SAMPLING["default"]))
    opts["temperature"] = min(float(temperature), opts["temperature"])
    return opts


def default_threads() -> int:
    """Half the CPUs this process may use (1 on 2 cores, at most 4).

    Why not all of them: llama.cpp's worker threads wait for each other at every layer
    by spinning. When another process (Piper, Whisper, the VAD, the audio clocks) takes
    one core for a moment, the other thread spins until it comes back; on 2 shared
    cores that made decoding 5-20x slower (75-390 ms per token against 16.5 ms with one
    thread, measured next to a process waking every 20 ms).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n // 2))


def batch_threads() -> int:
    """Every CPU this process may use (at most 4) for prompt processing, unlike decoding.

    Why: the prompt is one batch on the critical path (the user's question after the
    cached system prompt and history), and when it runs the CPU is free: stt has just
    handed over the words and tts waits for the first sentence. Measured on 2 idle cores,
    Qwen2.5-Coder-0.5B, 6 Portuguese questions after a cached system prompt: time to
    the first token 311-438 ms with one thread, 192-245 ms with two.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


#: Niceness of the generation thread once the first token is out (0-19). The rest of a reply
#: is not on the critical path (the first sentence plays for about a second while the model
#: writes the next one in a few hundred ms), but Piper, Whisper, the VAD, the audio clocks and
#: the UI are: they should win the CPU whenever they need it. Measured on 2 cores: Piper's
#: first clause took 101 ms next to a decoding LLM at nice 0, 72 ms at nice 10, 69 ms idle.
#: The prompt (up to the first token) is read at normal priority: it is on the critical path,
#: and its batch runs on every core with a barrier per layer, so one busy nice-0 process
#: (another program, or stt's Whisper) stalled the whole batch: first token 8.0-8.4 s at
#: nice 10 next to one busy core, 0.32-0.77 s at nice 0, 0.17-0.23 s idle (5 Portuguese
#: questions after a cached system prompt, /tmp runs).
LLM_NICE = 10


def yield_cpu() -> None:
    """Lower this thread's CPU priority (Linux niceness is per thread; raising it needs no rights)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LLM_NICE)
    except (AttributeError, OSError):
        pass  # not Linux, or refused: run at normal priority
