"""Echo cancellation (issue 7) on a synthetic room made of real speech: Luna's Piper reply delayed
60/200 ms, reverberated (~150 ms decay), mixed at -6 dB; the user's espeak-ng sentence from 1 s."""

from __future__ import annotations

import numpy as np
import pytest

from services.capture import aec
from services.capture.aec import (
    AEC_FRAME,
    LiveKitAec3,
    Passthrough,
    ReferenceBuffer,
    WebRtcAec3,
    make_canceller,
    process_signal,
)
from tests.support.aecroom import (
    BARGE_TEXT,
    USER_TEXT,
    Listener,
    erle_db,
    luna_reply,
    run_canceller,
    scene,
    user_sentence,
)
from tests.support.audio import RATE, wer, words

pytestmark = pytest.mark.audio

DELAYS = (0.06, 0.2)


@pytest.fixture(scope="module")
def listener():
    return Listener()


def test_default_canceller_is_livekit_with_pywebrtc_fallback(monkeypatch):
    assert isinstance(make_canceller(), LiveKitAec3)

    class Missing:
        name = "missing"

        def __init__(self) -> None:
            raise ImportError("no wheel")

    monkeypatch.setitem(aec.CANCELLERS, "livekit-aec3", Missing)
    assert isinstance(make_canceller(), WebRtcAec3)
    monkeypatch.setitem(aec.CANCELLERS, "webrtc-aec3", Missing)
    with pytest.raises(ImportError, match="no echo canceller"):
        make_canceller()


def test_livekit_canceller_takes_any_whole_number_of_frames():
    s = scene(0.06)
    a, b = LiveKitAec3(), LiveKitAec3()
    one = process_signal(a, s.mic[:RATE], s.ref[:RATE])
    two = np.concatenate([b.process(s.mic[i:i + 320], s.ref[i:i + 320]) for i in range(0, RATE, 320)])
    assert one.dtype == two.dtype == np.int16 and np.array_equal(one, two)
    b.reset()
    assert np.array_equal(process_signal(b, s.mic[:RATE], s.ref[:RATE]), one)  # reset: a fresh canceller


@pytest.mark.parametrize("kind", ["livekit-aec3", "webrtc-aec3"])
@pytest.mark.parametrize("delay", DELAYS)
def test_erle_at_least_30db(delay, kind):
    s = scene(delay)
    out, cpu = run_canceller(make_canceller(kind), s.mic, s.ref)
    end = len(luna_reply()) / RATE + delay
    first = erle_db(s.mic, out, s.ref, 0.0, 1.0)
    converged = erle_db(s.mic, out, s.ref, 1.0, end)
    overall = erle_db(s.mic, out, s.ref, 0.0, end)
    base = erle_db(s.mic, process_signal(Passthrough(), s.mic, s.ref), s.ref, 0.0, end)
    print(f"\n{kind} delay {delay * 1000:.0f} ms: ERLE first second {first:.1f} dB, after 1 s {converged:.1f} dB, "
          f"overall {overall:.1f} dB (passthrough {base:.1f} dB); CPU {cpu:.1f} ms per audio second")
    assert first >= 30.0
    assert converged >= 30.0
    assert abs(base) < 0.1


def test_canceller_cpu_budget():
    s = scene(0.06)
    _, cpu = run_canceller(make_canceller(), s.mic, s.ref)
    _, cpu2 = run_canceller(make_canceller(), s.mic, s.ref)
    cpu = min(cpu, cpu2)
    print(f"\ncanceller CPU: {cpu:.1f} ms per second of audio (target 10 ms; the bench reports it)")
    assert cpu <= 25.0  # a gross-regression check with headroom for a loaded CI machine; measured ~6 here


@pytest.mark.parametrize("delay", DELAYS)
def test_luna_only_is_not_heard(delay, listener):
    s = scene(delay)
    out, _ = run_canceller(make_canceller(), s.mic, s.ref)
    starts, texts = listener.hear(out, s.ref)  # with the shorter barge-in minimum while Luna speaks
    _, raw = listener.hear(s.mic)
    print(f"\ndelay {delay}: without AEC stt hears {raw!r}; with AEC {texts!r}")
    assert len(words(" ".join(raw))) > 10  # the echo is loud enough to be transcribed without AEC
    assert starts == [] and words(" ".join(texts)) == []


#: AEC3 attenuates the user during double talk and lets only the first 160-190 ms of a short "Wait."
#: through before suppressing it; stt therefore counts 150 ms of voice as speech while Luna speaks
#: (VAD_BARGE_IN_MIN_SPEECH_MS, Segmenter.luna_speaking), which the Listener applies from Luna's first
#: to her last reference sample. Before that rule, "Wait." was lost in about 1 scene in 12.
@pytest.mark.parametrize("delay", DELAYS)
def test_bargein_sentence_transcribed_like_clean(delay, listener):
    """'Wait.' over Luna -> speech-start on the cancelled signal -> playback cut 100 ms later ->
    the user's sentence that follows is transcribed as well as without any echo."""
    clean = listener.hear(np.concatenate([np.zeros(RATE, np.int16), user_sentence()]))[1]
    w_clean = wer(USER_TEXT, " ".join(clean))
    s = scene(delay, with_user=True, barge_text=BARGE_TEXT)
    starts, _ = listener.hear(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)
    # speech-start must be published after the user's first sample (1.0 s): earlier, Luna's voice did it
    assert starts and 1.0 <= starts[0] < 1.6, starts
    cut = starts[0] + 0.1  # playback stops within 100 ms of speech-start (issue 3)
    s = scene(delay, with_user=True, cut_at_s=cut, barge_text=BARGE_TEXT)
    utts = listener.utterances(run_canceller(make_canceller(), s.mic, s.ref)[0], s.ref)
    after = " ".join(t for t0, t in utts if t0 > cut)
    w = wer(USER_TEXT, after)
    print(f"\ndelay {delay}: speech-start {starts[0]:.2f} s, clean WER {w_clean:.3f} {clean!r}; "
          f"after barge-in WER {w:.3f} {utts!r}")
    assert (w - w_clean) * 100 <= 5.0


def test_reference_buffer_aligns_by_device_time():
    rb = ReferenceBuffer()
    t0 = 1_000_000_000
    block = np.arange(320, dtype=np.int16)
    rb.add(t0, block)
    step = AEC_FRAME * 1_000_000_000 // RATE
    assert np.array_equal(rb.get(t0), block[:160])
    assert np.array_equal(rb.get(t0 + step), block[160:])
    half = rb.get(t0 - step // 2)  # a mic frame that starts 5 ms before the block
    assert np.all(half[:80] == 0) and np.array_equal(half[80:], block[:80])
    assert not rb.get(t0 + 10 * step).any()  # no reference: zeros
    assert rb.covered_until == t0 + 2 * step
    rb.add(t0 + 10 * step, block)
    assert np.array_equal(rb.get(t0 + 11 * step), block[160:])
