"""Issue 13's pieces without processes: satellite addressing, key management, file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq

from shared import curve, endpoints, private

MAIN, SAT = "10.77.0.1", "10.77.0.2"


@pytest.fixture
def tcp(bus_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LUNA_BUS", "tcp")
    monkeypatch.setenv("LUNA_BUS_PORT", "47100")
    return monkeypatch


def test_satellite_pair_addresses(tcp) -> None:
    tcp.setenv("LUNA_BUS_ALLOW_REMOTE", "1")
    tcp.setenv("LUNA_BUS_HOST", MAIN)
    tcp.setenv("LUNA_SATELLITE_HOST", SAT)
    assert endpoints.role() == "main"
    assert endpoints.event_endpoint("capture") == f"tcp://{SAT}:47100"  # the microphone is over there
    assert endpoints.stream_endpoint("pcm").startswith(f"tcp://{SAT}:")  # so is the speaker
    assert endpoints.event_endpoint("stt").startswith(f"tcp://{MAIN}:")
    assert endpoints.event_endpoint("ctl").startswith(f"tcp://{MAIN}:")
    assert endpoints.event_endpoint("capture", bind=True).startswith(f"tcp://{MAIN}:")  # binds are always here
    assert endpoints.is_peer_address(endpoints.event_endpoint("playback"))
    assert not endpoints.is_peer_address(endpoints.event_endpoint("brain"))
    assert endpoints.runs_elsewhere("capture") == SAT and endpoints.runs_elsewhere("stt") is None
    tcp.delenv("LUNA_SATELLITE_HOST")
    tcp.setenv("LUNA_BUS_HOST", SAT)
    tcp.setenv("LUNA_SATELLITE_OF", MAIN)
    assert endpoints.role() == "satellite"
    assert endpoints.stream_endpoint("audio") == f"tcp://{MAIN}:{47100 + 20}"  # stt's stream, on main
    assert endpoints.stream_endpoint("reference").startswith(f"tcp://{SAT}:")
    assert endpoints.event_endpoint("ctl").startswith(f"tcp://{SAT}:")  # a tool talks to its own host
    assert endpoints.runs_elsewhere("brain") == MAIN and endpoints.runs_elsewhere("playback") is None


def test_satellite_needs_tcp_and_consent(bus_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNA_SATELLITE_HOST", SAT)
    with pytest.raises(endpoints.EndpointError, match="LUNA_BUS=tcp"):
        endpoints.event_endpoint("capture")
    monkeypatch.setenv("LUNA_BUS", "tcp")
    with pytest.raises(endpoints.EndpointError, match="LUNA_BUS_ALLOW_REMOTE"):
        endpoints.event_endpoint("capture")


@pytest.mark.parametrize(("env", "words"), [
    ({"LUNA_SATELLITE_HOST": SAT}, "LUNA_BUS=tcp"),
    ({"LUNA_SATELLITE_OF": MAIN, "LUNA_BUS": "tcp"}, "LUNA_BUS_ALLOW_REMOTE=1"),
    ({"LUNA_SATELLITE_OF": MAIN, "LUNA_BUS": "tcp", "LUNA_BUS_ALLOW_REMOTE": "1"}, "LUNA_PEER_KEY"),
])
def test_check_names_what_a_satellite_lacks(tmp_path: Path, env: dict[str, str], words: str) -> None:
    from shared import config

    with pytest.raises(config.ConfigError) as exc:
        config.load(env=env, path=tmp_path / "none")
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_satellite_settings_come_from_dotenv(bus_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "sat.env"
    env.write_text(f"LUNA_BUS=tcp\nLUNA_BUS_ALLOW_REMOTE=1\nLUNA_BUS_HOST={SAT}\nLUNA_SATELLITE_OF={MAIN}\n")
    monkeypatch.setenv("LUNA_ENV_FILE", str(env))
    assert endpoints.role() == "satellite" and endpoints.event_endpoint("stt").startswith(f"tcp://{MAIN}:")


def test_keys_are_private_and_managed(bus_env) -> None:
    pub, sec = curve.ensure_keypair()
    d = curve.keys_dir()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and stat.S_IMODE(curve.authorized_dir().stat().st_mode) == 0o700
    for f in d.glob("luna.key*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert curve.ensure_keypair() == (pub, sec)  # made once, then kept
    other, _ = zmq.curve_keypair()
    path = curve.add("kitchen", other.decode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert curve.authorized() == {"luna": pub, "kitchen": other}
    assert curve.parse_public(str(path)) == other  # a .key file is accepted as well
    for bad in ("short", "," * 40, ""):
        with pytest.raises(curve.KeyError_):
            curve.parse_public(bad)
    with pytest.raises(curve.KeyError_):
        curve.add("../escape", other.decode())
    assert curve.revoke("kitchen") and not curve.revoke("kitchen")
    assert curve.authorized() == {"luna": pub}


def test_admission_counts_and_follows_revocation(bus_env) -> None:
    adm = curve._Admission()
    other, _ = zmq.curve_keypair()
    assert adm.callback("luna", curve.public_key())
    assert not adm.callback("luna", other)
    curve.add("phone", other.decode())
    assert adm.callback("luna", other)  # admitted at the next handshake, no restart
    curve.revoke("phone")
    assert not adm.callback("luna", other)
    assert adm.admitted == 2 and sum(adm.denied.values()) == 2


def test_tighten_makes_old_trees_private_but_never_follows_links(tmp_path: Path) -> None:
    tree = tmp_path / "luna"
    (tree / "logs").mkdir(parents=True)
    for d in (tree, tree / "logs"):
        os.chmod(d, 0o755)
    (tree / "logs" / "brain.jsonl").write_text("{}")
    os.chmod(tree / "logs" / "brain.jsonl", 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not Luna's")
    os.chmod(outside, 0o644)
    (tree / "link").symlink_to(outside)
    private.tighten(tree)
    assert stat.S_IMODE(tree.stat().st_mode) == 0o700 and stat.S_IMODE((tree / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tree / "logs" / "brain.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


@pytest.mark.parametrize(("content", "perm", "warns"), [
    ("GEMINI_API_KEY=abc123456\n", 0o644, True),
    ("export OPENAI_API_KEY='sk-123456'\n", 0o640, True),
    ("GEMINI_API_KEY=abc123456\n", 0o600, False),
    ("GEMINI_API_KEY=\n# DEEPSEEK_API_KEY=sk-in-a-comment\n", 0o644, False),
])
def test_env_warning(tmp_path: Path, content: str, perm: int, warns: bool) -> None:
    p = tmp_path / ".env"
    p.write_text(content)
    os.chmod(p, perm)
    line = private.env_warning(p, "pt")
    assert (line is not None) == warns
    if line:
        assert line.startswith("aviso:") and "\n" not in line and "abc123456" not in line
