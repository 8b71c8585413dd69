"""Run the real `pbx run` daemon as a subprocess on free loopback ports, for tests and
benchmarks, and drive its CLI against the same data directory."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wait_until(check, timeout: float = 10.0, every: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll check() until it is true or the time is up; returns the last answer."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the edge binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


class Daemon:
    def __init__(self, data_dir: Path, *, ring_timeout: float = 10.0,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.sip_port = free_port()
        self.http_port = free_port()
        self.ring_timeout = ring_timeout
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self.first_password: str | None = None

    @property
    def sip(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pbx(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pbx", *args, "--data", str(self.data_dir)],
                              capture_output=True, text=True, check=check, cwd=REPO,
                              env=self.env, timeout=60)

    def start(self, timeout: float = 30.0, attempts: int = 3) -> "Daemon":
        """Start and wait for "PBX running". A port found free may be taken by another
        process before the daemon binds it: then again on new ports."""
        for _ in range(attempts):
            cmd = [sys.executable, "-m", "pbx", "run", "--data", str(self.data_dir), "--sip", self.sip,
                   "--http", f"127.0.0.1:{self.http_port}", "--ring-timeout", str(self.ring_timeout)]
            self.output.clear()
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
            ready = threading.Event()
            threading.Thread(target=self._read, args=(ready,), daemon=True).start()
            if not ready.wait(timeout):
                self.stop()
                raise RuntimeError("daemon did not start:\n" + "".join(self.output[-50:]))
            running = any(line.startswith("PBX running") for line in self.output)
            if running or not any("Address already in use" in line for line in self.output):
                return self
            self.proc.wait()
            self.sip_port, self.http_port = free_port(), free_port()
        raise RuntimeError("daemon did not start:\n" + "".join(self.output[-50:]))

    def _read(self, ready: threading.Event) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.output.append(line)
            if "one-time password" in line:
                self.first_password = line.split("one-time password", 1)[1].split()[0]
            if line.startswith("PBX running"):
                ready.set()
        ready.set()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def last_call(self, count: int = 1) -> dict:
        """The newest call record once there are `count` (they land ~0.5 s after hang-up)."""
        for _ in range(50):
            records = json.loads(self.pbx("calls", "--json").stdout)
            if len(records) >= count:
                return records[0]
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} call records")

    def api(self, path: str, body: dict | None = None) -> dict | list:
        """Call the REST bridge with a token of the tests' own (GET, or POST with a body)."""
        import urllib.request

        if not hasattr(self, "_token"):
            self._token = self.pbx("token", "create", "tests", "--scope", "admin").stdout.split()[0]
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/api/v1/{path}", data=data,
                                     headers={"Authorization": f"Bearer {self._token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def registrations(self) -> list[dict]:
        """What the edge's registrar holds, read through the REST bridge."""
        result = self.api("registrations")
        assert isinstance(result, list)
        return result

    def log(self) -> str:
        return "".join(self.output)
