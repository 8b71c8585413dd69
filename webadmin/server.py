"""The web admin served by waitress in a thread of the daemon."""
from __future__ import annotations

import threading

from flask import Flask
from waitress.server import create_server

from pbx.errors import PbxError


class WebServer:
    def __init__(self, app: Flask, host: str, port: int, threads: int = 4) -> None:
        try:
            # lookahead: a channel keeps reading while its request runs, so a live-event
            # (SSE) stream notices at once that its client went away
            self._server = create_server(app, host=host, port=port, threads=threads,
                                         ident="pbx-appliance", channel_request_lookahead=1)
        except OSError as exc:
            raise PbxError(f"web admin cannot listen on {host}:{port}: {exc.strerror}") from exc
        self.host, self.port = host, self._server.effective_port  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()
        self._thread.join(5)
