"""A modem that vanishes while its port is being opened (a pty whose far side is gone:
tcflush fails with EIO) takes the line down with that reason and is retried, like any
lost port: no 'unexpected failure' traceback in the log."""
from __future__ import annotations

import logging
import termios
import time

import pytest

import hardware.modem.supervisor as supervisor
from hardware.modem.line import ModemLine


class VanishingPort:
    opened = 0

    def __init__(self) -> None:
        VanishingPort.opened += 1
        self.closed = False

    def write(self, data: bytes) -> int:
        return len(data)

    def reset_input_buffer(self) -> None:
        raise termios.error(5, "Input/output error")

    def close(self) -> None:
        self.closed = True


def test_eio_while_opening_is_a_lost_port(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    ports: list[VanishingPort] = []
    monkeypatch.setattr(supervisor.serial, "serial_for_url", lambda *a, **k: ports.append(VanishingPort()) or ports[-1])
    line = ModemLine("gsm9", "/dev/pbx/gone", "sim7600", on_event=lambda e: None, backoff=(0.05, 0.1))
    with caplog.at_level(logging.WARNING):
        line.start()
        deadline = time.monotonic() + 5
        while len(ports) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        line.stop()
    assert len(ports) >= 3, "the line was not retried"
    assert all(p.closed for p in ports), "a failed port was left open"
    assert "Input/output error" in line.problem or "Input/output error" in caplog.text
    assert "unexpected failure" not in caplog.text
