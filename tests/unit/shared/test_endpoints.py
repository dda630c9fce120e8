"""The bus listens only on a private directory or loopback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared import endpoints


def test_runtime_dir_is_private(bus_env) -> None:
    d = endpoints.runtime_dir()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and d.stat().st_uid == os.getuid()
    assert endpoints.event_endpoint("brain") == f"ipc://{d}/ev-brain.sock"


def test_runtime_dir_permissions_are_tightened(bus_env, tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "loose"
    d.mkdir(mode=0o755)
    monkeypatch.setenv("LUNA_RUN_DIR", str(d))
    endpoints.runtime_dir()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_tcp_defaults_to_loopback(monkeypatch) -> None:
    monkeypatch.setenv("LUNA_BUS", "tcp")
    monkeypatch.delenv("LUNA_BUS_HOST", raising=False)
    assert endpoints.event_endpoint("ui").startswith("tcp://127.0.0.1:")
    monkeypatch.setenv("LUNA_BUS_HOST", "192.168.1.5")
    with pytest.raises(endpoints.EndpointError, match="not loopback"):
        endpoints.event_endpoint("ui")


@pytest.mark.parametrize("addr", ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.2:1", "udp://x"])
def test_binding_beyond_loopback_is_refused(addr, monkeypatch) -> None:
    monkeypatch.delenv("LUNA_BUS_ALLOW_REMOTE", raising=False)
    with pytest.raises(endpoints.EndpointError):
        endpoints.check_bind_address(addr)


def test_loopback_and_ipc_are_allowed() -> None:
    endpoints.check_bind_address("tcp://127.0.0.1:5555")
    endpoints.check_bind_address("ipc:///tmp/x.sock")
