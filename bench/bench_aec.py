"""Echo cancellation (issue 7): ERLE, Luna's own words heard, barge-in WER and canceller CPU,
on the synthetic room of tests/support/aecroom.py (Piper reply delayed 60/200 ms, ~150 ms reverb, -6 dB,
espeak-ng user from 1 s), against the baselines in the same run: no canceller (passthrough)
and the half-duplex design (gate the microphone while Luna speaks, no barge-in by voice)."""

from __future__ import annotations

import numpy as np

from services.capture.aec import Passthrough, make_canceller
from tests.support.aecroom import (
    BARGE_TEXT,
    RATE,
    USER_TEXT,
    USER_TEXT_STOP,
    Listener,
    erle_db,
    luna_reply,
    run_canceller,
    scene,
    user_sentence,
)
from tests.support.audio import wer, words

DELAYS = (0.06, 0.2)
TAIL_S = 0.3  # the half-duplex gate's echo tail (services/capture/gate.py ECHO_TAIL_NS)


def _half_duplex(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """What stt gets in half-duplex: nothing from Luna's first sample to TAIL_S after her last."""
    out = mic.copy()
    on = np.flatnonzero(ref)
    if len(on):
        out[on[0]:min(len(out), on[-1] + int(TAIL_S * RATE))] = 0
    return out


def _after(utts: list[tuple[float, str]], t: float) -> str:
    return " ".join(x for t0, x in utts if t0 > t)


def main() -> dict:
    L = Listener()
    clean = " ".join(L.hear(np.concatenate([np.zeros(RATE, np.int16), user_sentence()]))[1])
    w_clean = wer(USER_TEXT, clean)
    end = len(luna_reply()) / RATE
    erle_first, erle_conv, cpu, own, deltas, talkover = [], [], [], [], [], []
    base_own, hd_wer, cpu_fb = [], [], []
    for d in DELAYS:
        s = scene(d)
        out, c = run_canceller(make_canceller(), s.mic, s.ref)
        _, c2 = run_canceller(make_canceller(), s.mic, s.ref)
        cpu.append(min(c, c2))
        # the fallback canceller (pywebrtc-audio's AEC3), where the livekit wheel is missing
        cpu_fb.append(min(run_canceller(make_canceller("webrtc-aec3"), s.mic, s.ref)[1] for _ in range(2)))
        erle_first.append(erle_db(s.mic, out, s.ref, 0.0, 1.0))
        erle_conv.append(erle_db(s.mic, out, s.ref, 1.0, end + d))
        own.append(len(words(" ".join(L.hear(out, s.ref)[1]))))
        base = run_canceller(Passthrough(), s.mic, s.ref)[0]
        base_own.append(len(words(" ".join(L.hear(base)[1]))))
        # barge-in: "Wait." over Luna -> speech-start on the cancelled signal -> playback cut 100 ms later
        s = scene(d, with_user=True, barge_text=BARGE_TEXT)
        starts = L.hear(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)[0]
        cut = (starts[0] if starts else end) + 0.1
        s = scene(d, with_user=True, cut_at_s=cut, barge_text=BARGE_TEXT)
        utts = L.utterances(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)
        w = wer(USER_TEXT, _after(utts, cut))
        deltas.append(100 * (w - w_clean))
        # half-duplex: Luna is not cut by voice, the user's words under her reply are gated away
        s_hd = scene(d, with_user=True, barge_text=BARGE_TEXT)
        hd = L.utterances(_half_duplex(s_hd.mic, s_hd.ref))
        hd_wer.append(wer(USER_TEXT, _after(hd, 1.0)))
        # the worst case: the user talks straight over Luna, no pause ("Stop, please open ...")
        s = scene(d, with_user=True, user_text=USER_TEXT_STOP)
        st = L.hear(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)[0]
        s = scene(d, with_user=True, user_text=USER_TEXT_STOP, cut_at_s=(st[0] if st else end) + 0.1)
        t_over = " ".join(L.hear(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)[1])
        talkover.append(100 * wer(USER_TEXT_STOP, t_over))
        print(f"delay {d * 1000:.0f} ms: ERLE first second {erle_first[-1]:.1f} dB, after 1 s {erle_conv[-1]:.1f} dB "
              f"(passthrough 0.0 dB); own words {own[-1]} (passthrough {base_own[-1]}); CPU {cpu[-1]:.1f} ms/s "
              f"(fallback pywebrtc-audio {cpu_fb[-1]:.1f} ms/s); "
              f"barge-in at {cut - 0.1:.2f} s, sentence after it WER {w:.3f} vs clean {w_clean:.3f} "
              f"(delta {deltas[-1]:+.1f} points; half-duplex WER {hd_wer[-1]:.3f}: Luna talks on, the user is "
              f"gated); talking straight over Luna WER {talkover[-1]:.1f}% ({t_over!r})")
    return {
        "aec_erle_db": round(min(erle_first + erle_conv), 1),
        "aec_erle_first_s_db": round(min(erle_first), 1),
        "aec_erle_converged_db": round(min(erle_conv), 1),
        "aec_own_words": int(max(own)),
        "aec_cpu_ms_per_s": round(max(cpu), 2),
        "aec_canceller": make_canceller().name,
        "aec_cpu_ms_per_s_fallback_pywebrtc": round(max(cpu_fb), 2),
        "aec_bargein_wer_delta": round(max(deltas), 1),
        "aec_baseline_passthrough_own_words": int(min(base_own)),
        "aec_baseline_half_duplex_bargein_wer": round(min(hd_wer), 3),
        "aec_talkover_wer_pct": round(max(talkover), 1),
    }


if __name__ == "__main__":
    print(main())
