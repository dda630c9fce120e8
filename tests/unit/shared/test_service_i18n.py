"""What services publish to the user (notices, heartbeat problems, fallbacks) is in the user's language.

Why: capture's "no microphone" line was the first line of the Portuguese chat and it was
English (issue 15, item 5). Every such line now comes from shared/i18n; these tests
check the catalogue is complete in both languages, that its Portuguese passes the UI's
English-word walk (tests/system/test_ui_live.py), and that a real capture with no device says
so in Portuguese on the bus.
"""

from __future__ import annotations

import re
import string

from shared import i18n
from tests.support.voicekit import Driver
from tests.system.test_ui_live import english_words

#: The services' lines in the one catalogue (the UI's and luna's are walked by their own tests).
OURS = ("private.", "service.", "dev.", "capture.", "playback.", "tts.", "speech.", "stt.", "brain.", "watchdog.")
STRINGS = {lang: {k: v for k, v in lines.items() if k.startswith(OURS)} for lang, lines in i18n.STRINGS.items()}

#: Names a service line carries as they are: engines, voices, settings.
NAMES = {"piper", "kokoro", "elevenlabs", "chatterbox", "pulseaudio", "chmod", "smart", "turn", "v3"}


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def render(key: str, lang: str) -> str:
    """The line with each field filled by a neutral name, commands in backticks left out (typed as they are)."""
    text = i18n.say(key, lang, **dict.fromkeys(fields(STRINGS[lang][key]), "X"))
    return re.sub(r"`[^`]*`", " ", text)


def test_every_key_is_in_both_languages_with_the_same_fields() -> None:
    pt, en = STRINGS["pt"], STRINGS["en"]
    assert set(pt) == set(en), set(pt) ^ set(en)
    assert {k: fields(v) for k, v in pt.items()} == {k: fields(v) for k, v in en.items()}


def test_portuguese_lines_have_no_english_words() -> None:
    bad = {k: english_words(render(k, "pt")) - NAMES for k in STRINGS["pt"]}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_the_check_catches_english() -> None:
    """The same check on the English catalogue must fail, or it proves nothing."""
    assert sum(bool(english_words(render(k, "en")) - NAMES) for k in STRINGS["en"]) > len(STRINGS["en"]) // 2


def test_say_falls_back_to_portuguese_for_an_unknown_language() -> None:
    assert i18n.say("capture.no-device", "fr", why="X") == i18n.say("capture.no-device", "pt", why="X")
    assert i18n.say("capture.no-device", "en", why="X") == "microphone: X; text chat still works"


async def test_capture_without_a_device_says_so_in_portuguese(start_service) -> None:
    env = {"CAPTURE_DEVICE": "no-such-microphone", "PULSE_SERVER": "unix:/nonexistent/pulse", "LANGUAGE": "pt"}
    async with Driver() as d:
        cap = start_service("capture", **env)
        hb = await d.wait(lambda: (h := d.heartbeat("capture")) and h["state"] == "no-device" and h, 30,
                          "capture no-device")
        problem = [p for p in hb["info"]["problems"] if p.startswith("microfone:")]
        assert problem and problem[0].endswith("; o chat por texto continua funcionando"), hb["info"]
        assert not english_words(re.sub(r"CAPTURE_DEVICE=\S+|\(disponíveis:[^)]*\)", " ", problem[0])) - NAMES, problem
        # the notice went out once at start-up: on the bus if we were subscribed in time, else in its log
        notes = [n["text"] for n in d.of("notice", service="capture") if n["code"] == "no-device"]
        assert notes == [problem[0]] or problem[0] in cap.output(), (notes, cap.output()[-2000:])


def test_the_banner_reads_a_portuguese_fallback_as_not_downloaded(monkeypatch) -> None:
    """The banner tells "not downloaded" from "broken" by the fallback's words: the pt ones count too."""
    from services.ui.widgets import banner

    monkeypatch.setenv("LANGUAGE", "pt")
    stt = i18n.say("stt.fallback", "pt", why=i18n.say("stt.why-missing", "pt", model="small", err="E"),
                   model="whisper-base", note="")
    tts = i18n.say("tts.fallback-bilingual", "pt", model="en_US-joe-medium",
                   why=i18n.say("tts.why-missing", "pt", voice="'pt_BR-faber-medium'", stem="pt_BR-faber-medium"))
    found = banner.find({"stt": {"fallback": stt, "model": "whisper-base"}, "tts": {"fallback": tts, "model": "joe"}},
                        {"STT_LOCAL": "small", "TTS_VOICE": "pt_BR-faber-medium"})
    assert [(f.part, f.why) for f in found] == [("ears", "Whisper small não foi baixado"),
                                                ("voice", "a voz pt_BR-faber-medium não foi baixada")], found
