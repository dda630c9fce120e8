"""The integration tests' shared fixture: a bus peer that plays the UI and tts around a real brain."""

from __future__ import annotations

import pytest

from tests.integration.test_brain_service import Peer


@pytest.fixture
async def peer(bus_env):
    p = Peer()
    yield p
    await p.close()
