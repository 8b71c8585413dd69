"""The AT channel over a real pty (the PBX opens the slave like /dev/ttyUSB2; the test
plays the modem on the master): final results vs URCs, info lines, SMS prompt, timeouts,
+CME ERROR, garbage, and an unplugged port."""
from __future__ import annotations

import os
import select
import threading
import time

import pytest
import serial

from hardware.modem.atchannel import AtChannel, AtError, AtTimeout


class FakeModem:
    """Answers commands on the pty master from a script: {command: reply bytes}."""

    def __init__(self, script: dict[str, bytes]) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self.slave = slave
        self.script = script
        self.received: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buffer = b""
        while not self._stop:
            # select, not a blocking read: a read in progress would keep the master
            # open after close(), and the PBX side would never see the hang-up.
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            buffer += data
            if b"\x1a" in buffer:  # an SMS body ends with Ctrl-Z, not CR
                body, buffer = buffer.split(b"\x1a", 1)
                self.received.append(body + b"\x1a")
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                self.received.append(line)
                command = line[max(0, line.find(b"AT")):]  # modems skip what comes before "AT"
                reply = self.script.get(command.decode(errors="replace"))
                if reply is not None:
                    os.write(self.master, reply)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        os.close(self.master)


@pytest.fixture
def modem_and_channel():
    modem = FakeModem({
        "AT": b"\r\nOK\r\n",
        "AT+CSQ": b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
        "AT+CLIP?": b"\r\n+CLIP: 1,1\r\n\r\nOK\r\n",
        "AT+CPIN?": b"\r\n+CME ERROR: 10\r\n",
        "AT+CMGS=23": b"\r\n> ",
        "AT+CMGS=99": b"",  # no prompt
        "AT+SLOW": b"",
        "AT+MIXED": b"\r\nRING\r\n\r\n+CLIP: \"+79161234567\",145,\"\",0,\"\",0\r\n\r\nOK\r\n",
        "AT+CLCC": b"\r\nNO CARRIER\r\n\r\nOK\r\n",  # the call ended while we asked
        "ATD89161234567;": b"\r\nBUSY\r\n",
    })
    urcs: list[str] = []
    closed: list[str] = []
    port = serial.Serial(modem.path, baudrate=115200, timeout=0.05)
    channel = AtChannel(port, urcs.append, is_urc=lambda t: t == "RING" or t.startswith("+CLIP:"),
                        on_closed=closed.append).start()
    yield modem, channel, urcs, closed
    channel.close()
    try:
        modem.close()
    except OSError:
        pass


def test_commands_info_lines_and_errors(modem_and_channel) -> None:
    modem, channel, urcs, _ = modem_and_channel
    assert channel.command("AT").ok
    assert channel.command("AT+CSQ").value("+CSQ:") == "21,99"
    # +CLIP: as the answer to AT+CLIP? is an info line, not an incoming call
    assert channel.command("AT+CLIP?").value("+CLIP:") == "1,1" and urcs == []
    with pytest.raises(AtError, match=r"\+CME ERROR: 10"):
        channel.command("AT+CPIN?")
    with pytest.raises(AtTimeout):
        channel.command("AT+SLOW", timeout=0.3)
    assert channel.command("AT").ok  # the channel is still usable after a timeout


def test_urcs_in_the_middle_of_a_command_go_to_the_handler(modem_and_channel) -> None:
    modem, channel, urcs, _ = modem_and_channel
    assert channel.command("AT+MIXED").ok
    assert urcs == ["RING", '+CLIP: "+79161234567",145,"",0,"",0']
    modem.send(b"\r\nRING\r\n")
    deadline = time.monotonic() + 2
    while len(urcs) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert urcs[-1] == "RING"


def test_a_call_ending_during_another_command_is_unsolicited(modem_and_channel) -> None:
    modem, channel, urcs, _ = modem_and_channel
    assert channel.command("AT+CLCC").ok  # not failed by the NO CARRIER
    assert urcs == ["NO CARRIER"]
    with pytest.raises(AtError, match="BUSY"):  # but it is the result of a dial
        channel.command("ATD89161234567;")


def test_sms_prompt_and_payload(modem_and_channel) -> None:
    modem, channel, _, _ = modem_and_channel

    def answer_after_payload() -> None:
        deadline = time.monotonic() + 3
        while b"0011000B919761214365F7\x1a" not in modem.received and time.monotonic() < deadline:
            time.sleep(0.02)
        if b"0011000B919761214365F7\x1a" in modem.received:
            modem.send(b"\r\n+CMGS: 7\r\n\r\nOK\r\n")

    threading.Thread(target=answer_after_payload, daemon=True).start()
    response = channel.command("AT+CMGS=23", payload=b"0011000B919761214365F7", timeout=3)
    assert response.ok and response.value("+CMGS:") == "7"


def test_a_missing_sms_prompt_cancels_the_text_entry(modem_and_channel) -> None:
    modem, channel, _, _ = modem_and_channel
    with pytest.raises(AtTimeout, match="prompt"):
        channel.command("AT+CMGS=99", payload=b"00", timeout=0.3)
    assert channel.command("AT").ok
    assert modem.received[-1] == b"\x1bAT", modem.received  # ESC went out before the next command


def test_garbage_is_dropped_and_counted(modem_and_channel) -> None:
    modem, channel, urcs, _ = modem_and_channel
    modem.send(os.urandom(200_000).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n")
    modem.send(bytes(range(1, 32)) * 10 + b"\r\n")
    time.sleep(0.5)
    assert channel.command("AT").ok
    assert channel.stats["garbage_dropped"] >= 1


def test_unplugged_port_is_reported_not_raised(modem_and_channel) -> None:
    modem, channel, _, closed = modem_and_channel
    modem.close()
    os.close(modem.slave)
    deadline = time.monotonic() + 3
    while not closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert closed and channel.closed
    with pytest.raises(AtError, match="port"):
        channel.command("AT", timeout=0.5)
