"""A modem played from a script on a pty, for byte-exact tests of the dialects: every
byte the line sends is kept, and the modem's replies are the recorded ones a test gives."""
from __future__ import annotations

import dataclasses
import os
import select
import threading
import time
import tty

from hardware.modem.dialects import get_dialect
from hardware.modem.dle import END_TX, DleDecoder
from hardware.modem.events import ModemUp
from hardware.modem.line import ModemLine
from tests.support.line_harness import LineWatcher

OK = b"\r\nOK\r\n"


class ScriptedModem:
    """The modem's side of a pty: answers command lines from a script (ERROR for the
    rest), and after it has answered CONNECT, takes the host's bytes as a DLE stream until
    DLE ETX. A reply may be a list: the next one each time the command comes; a reply
    (seconds, bytes) comes after that delay; a callable is asked each time (a modem whose
    answer depends on the call's state). After a reply ending in the "> " prompt it keeps
    the payload up to Ctrl-Z and answers with the script's entry for b"\x1a"; ESC instead
    cancels the text entry, answered with the entry for b"\x1b". texting: the modem is
    still in such a text entry when the line opens the port (a crash left it there)."""

    def __init__(self, script: dict, streaming: bool = False, texting: bool = False) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.script = dict(script)
        self.commands: list[bytes] = []
        self.raw = bytearray()  # everything the host sent
        self.stream = bytearray()  # what it sent in stream mode, as on the wire
        self.streaming = streaming
        self.payloads: list[bytes] = []  # what the host sent after a "> " prompt (SMS PDUs)
        self._awaiting_payload = texting
        self._decoder = DleDecoder()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def _run(self) -> None:
        buffer = b""
        while not self._stop:
            if not select.select([self.master], [], [], 0.02)[0]:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.raw += data
            buffer += data
            while buffer:
                if self._awaiting_payload:
                    end = min((i for i in (buffer.find(b"\x1a"), buffer.find(b"\x1b")) if i >= 0), default=-1)
                    if end < 0:
                        break
                    key, payload, buffer = buffer[end:end + 1], buffer[:end], buffer[end + 1:]
                    if key == b"\x1a":
                        self.payloads.append(payload)
                    self._awaiting_payload = False
                    self.send(self._reply(key))
                elif self.streaming:
                    _, _, rest = self._decoder.split(buffer)
                    self.stream += buffer[:len(buffer) - len(rest or b"")]
                    buffer = rest or b""
                    if rest is None:
                        break
                    self.streaming = False
                    self.send(END_TX + OK)
                elif b"\r" in buffer:
                    line, buffer = buffer.split(b"\r", 1)
                    line = line[max(0, line.find(b"AT")):]  # bytes before "AT" are skipped, as modems do
                    if not line:
                        continue  # an empty command line is ignored, as modems do
                    self.commands.append(line)
                    reply = self._reply(line)
                    self.send(reply)
                    self._awaiting_payload = reply.endswith(b"> ")
                    if b"CONNECT" in reply:
                        self.streaming, self._decoder = True, DleDecoder()
                else:
                    break

    def _reply(self, line: bytes) -> bytes:
        reply = self.script.get(line, b"\r\nERROR\r\n")
        if isinstance(reply, list):
            reply = reply.pop(0) if len(reply) > 1 else reply[0]
        if isinstance(reply, tuple):  # (seconds, bytes): a modem that takes its time
            time.sleep(reply[0])
            reply = reply[1]
        return reply() if callable(reply) else reply

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        for fd in (self.master, self.slave):
            os.close(fd)


class Rig(LineWatcher):
    """A ModemLine of one dialect on a ScriptedModem, with its events queued."""

    def __init__(self, dialect: str, script: dict, streaming: bool = False, name: str = "line1",
                 line_options: dict | None = None, texting: bool = False, **dialect_changes: object) -> None:
        super().__init__()
        self.modem = ScriptedModem(script, streaming, texting)
        chosen = dataclasses.replace(get_dialect(dialect), **dialect_changes)  # type: ignore[arg-type]
        options = {"keepalive": 60, **(line_options or {})}  # e.g. audio_port, poll_every
        self.line = ModemLine(name, self.modem.path, chosen, on_event=self.events.put,
                              on_audio=self.frames.append, **options).start()
        self.up: ModemUp = self.wait(ModemUp, timeout=3.0)

    def close(self) -> None:
        self.line.stop()
        self.modem.close()
