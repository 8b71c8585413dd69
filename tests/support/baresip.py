"""Drive Debian's baresip softphone: a config dir per phone, a WAV tone as microphone,
sndfile dumps of what it hears, and the ctrl_tcp JSON interface for commands/events."""
from __future__ import annotations

import json
import math
import socket
import subprocess
import time
import wave
from pathlib import Path

import numpy as np

from tests.support.daemon import free_port

MODULES = "/usr/lib/baresip/modules"


def write_tone(path: Path, freq: float, seconds: int = 30) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        n = np.arange(8000 * seconds)
        w.writeframes((8000 * np.sin(2 * math.pi * freq * n / 8000)).astype("<i2").tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


class Baresip:
    def __init__(self, home: Path, user: str, password: str, registrar: str, tone_hz: float,
                 auto_answer: bool = False) -> None:
        self.home = home
        self.rec = home / "rec"
        self.rec.mkdir(parents=True, exist_ok=True)
        self.ctrl_port = free_port()
        sip_port = free_port()
        write_tone(home / "mic.wav", tone_hz)
        (home / "config").write_text("\n".join([
            "poll_method epoll", "net_interface 127.0.0.1", f"sip_listen 127.0.0.1:{sip_port}",
            f"audio_source aufile,{home / 'mic.wav'}", "audio_alert aufile,/dev/null",
            f"module_path {MODULES}", "module g711.so", "module aufile.so", "module sndfile.so",
            "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}", f"snd_path {self.rec}", ""]))
        answer = ";answermode=auto" if auto_answer else ""
        (home / "accounts").write_text(
            f"<sip:{user}@{registrar};transport=udp>;auth_pass={password};regint=300{answer}\n")
        self.log = open(home / "baresip.log", "w")
        self.proc = subprocess.Popen(["baresip", "-f", str(home)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.sock = self._connect()
        self.buffer = b""
        self.events: list[dict] = []

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def command(self, command: str, params: str = "") -> None:
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def wait_event(self, kind: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    self.events.remove(event)
                    return event
            try:
                self.buffer += self.sock.recv(65536)
            except socket.timeout:
                continue
            while b":" in self.buffer:
                size, rest = self.buffer.split(b":", 1)
                if len(rest) < int(size) + 1:
                    break
                msg, self.buffer = json.loads(rest[: int(size)]), rest[int(size) + 1:]
                if msg.get("event"):
                    self.events.append(msg)
        raise AssertionError(f"no {kind} event; got {self.events}; log:\n"
                             + (self.home / "baresip.log").read_text()[-2000:])

    def wait_registered(self, timeout: float = 15) -> None:
        """Registration may finish before ctrl_tcp is connected, so read the log."""
        deadline = time.monotonic() + timeout
        log = self.home / "baresip.log"
        while time.monotonic() < deadline:
            if "200 OK (" in log.read_text():
                return
            time.sleep(0.1)
        raise AssertionError("baresip did not register:\n" + log.read_text()[-2000:])

    def heard(self) -> np.ndarray:
        files = sorted(self.rec.glob("*-dec.wav"))
        return read_wav(files[-1]) if files else np.zeros(0, np.int16)

    def stop(self) -> None:
        try:
            self.command("quit")
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()
