"""A real webhook receiver on 127.0.0.1 for tests and benchmarks: verifies every request's
Standard Webhooks signature with the reference verifier (standardwebhooks), answers as the
test scripts it (ok, 500 with Retry-After, timeouts, garbage that is not HTTP, down, or
blocking until released), and counts what it acknowledged with a 2xx per webhook-id, so
duplicates show. It stops by itself after `lifetime` seconds."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, port: int, secret: str | None = None, lifetime: float = 300.0) -> None:
        self.port, self.secret, self.lifetime = port, secret, lifetime
        self.mode = "ok"  # ok | 500 | timeout | garbage | block
        self.script: list[str] = []  # modes for the next requests, one each, before `mode`
        self.stall = 2.0  # seconds a "timeout" answer takes (longer than the daemon waits)
        self.release = threading.Event()  # ends a "block"
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []  # acknowledged with 2xx, in arrival order
        self.acks: Counter[str] = Counter()  # webhook-id -> times acknowledged
        self.seen: list[str] = []  # every request's webhook-id, whatever the answer
        self.answered: Counter[str] = Counter()  # mode -> requests answered that way
        self.bad_signatures = 0
        self._server: ThreadingHTTPServer | None = None
        self._deadline = time.monotonic() + lifetime
        threading.Thread(target=self._watchdog, daemon=True).start()

    # -- up and down ---------------------------------------------------------------
    def up(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._handle(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        """Nobody listens: connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _watchdog(self) -> None:
        while time.monotonic() < self._deadline:
            time.sleep(0.5)
        self.release.set()
        self.down()

    # -- answers ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k: v for k, v in handler.headers.items()}
        msg_id = handler.headers.get("webhook-id", "")
        try:
            if self.secret is None:
                raise WebhookVerificationError("no secret")
            envelope = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError):
            with self.lock:
                self.bad_signatures += 1
            self._reply(handler, 401, b"bad signature")
            return
        with self.lock:
            self.seen.append(msg_id)
            mode = self.script.pop(0) if self.script else self.mode
            self.answered[mode] += 1
        if mode == "block":
            self.release.wait(self.lifetime)
            self._reply(handler, 503, b"released")  # never acknowledged
        elif mode == "timeout":
            time.sleep(self.stall)
            self._reply(handler, 504, b"too late")
        elif mode == "garbage":
            handler.close_connection = True
            handler.wfile.write(b"\x00\xffthis is not HTTP\r\n\r\n")
        elif mode == "500":
            self._reply(handler, 500, b"oops", {"Retry-After": "60"})
        else:
            with self.lock:
                self.accepted.append({"id": msg_id, "received_at": time.time(), **envelope})
                self.acks[msg_id] += 1
            self._reply(handler, 204, b"")

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes,
               extra: dict[str, str] | None = None) -> None:
        try:
            handler.send_response(status)
            for name, value in (extra or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the sender went away (timed out, or was killed)
            handler.close_connection = True

    # -- what arrived -------------------------------------------------------------------
    def duplicates(self) -> dict[str, int]:
        with self.lock:
            return {k: n for k, n in self.acks.items() if n > 1}

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.accepted if e["type"] == kind]

    def dump(self) -> str:
        with self.lock:
            return json.dumps({"accepted": len(self.accepted), "seen": len(self.seen),
                               "answered": dict(self.answered), "bad": self.bad_signatures})
