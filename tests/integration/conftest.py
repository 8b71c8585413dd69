from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.daemon import Daemon

ALICE = ("101", "amber-Falcon-42")
BOB = ("102", "quiet-Harbor-77")


@pytest.fixture
def pbx(tmp_path: Path):
    """The real daemon on free loopback ports, with extensions 101 (Alice) and 102 (Bob)."""
    daemon = Daemon(tmp_path / "data", ring_timeout=4)
    daemon.pbx("ext", "add", ALICE[0], "--name", "Alice", "--password", ALICE[1])
    daemon.pbx("ext", "add", BOB[0], "--name", "Bob", "--password", BOB[1])
    daemon.start()
    yield daemon
    assert daemon.stop() == 0, daemon.log()[-3000:]
    assert "Assertion" not in daemon.log()
