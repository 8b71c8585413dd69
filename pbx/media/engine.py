"""The pjsua2 media engine: endpoint, the core's own SIP transport on loopback, the
conference bridge clocked by the null audio device. Runs only on the core thread.

Settings follow docs/architecture.md: threadCnt=0 and mainThreadOnly so every callback arrives on
the thread that polls, clockRate 8000, no echo canceller, G.711 only (phones and
modems speak it; wideband codecs would cost CPU per leg for nothing here).
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from typing import Callable, Iterator

import pjsua2 as pj

log = logging.getLogger(__name__)

G711 = ("PCMU/8000/1", "PCMA/8000/1")


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class _LogWriter(pj.LogWriter):
    def write(self, entry: "pj.LogEntry") -> None:
        log.debug("pjsip: %s", entry.msg.rstrip())


class MediaEngine:
    """Owns the pjsua2 Endpoint. start()/poll()/stop() are called by the core loop."""

    def __init__(self, sip_host: str = "127.0.0.1", sip_port: int = 0, *,
                 media_host: str = "127.0.0.1", max_calls: int = 256,
                 log_level: int = 1) -> None:
        self.sip_host, self.sip_port = sip_host, sip_port
        self.media_host = media_host
        self.max_calls = max_calls
        self.log_level = log_level
        self.ep: pj.Endpoint | None = None
        self._log_writer = _LogWriter()
        self.on_stop: list[Callable[[], None]] = []  # run before libDestroy, e.g. drop calls

    def start(self) -> None:
        ep = pj.Endpoint()
        with _quiet_stdout():  # pjlib prints its banner before our log settings apply
            ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = self.max_calls
        cfg.uaConfig.userAgent = "pbx-appliance"
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.channelCount = 1
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.noVad = True
        cfg.logConfig.level = self.log_level
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.writer = self._log_writer
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = self.sip_host
        tcfg.port = self.sip_port
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.sip_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            prio = 200 if codec.codecId in G711 else 0
            ep.codecSetPriority(codec.codecId, prio)
        ep.libStart()
        self.ep = ep
        log.info("media engine up: SIP %s:%s", self.sip_host, self.sip_port)

    def poll(self, timeout_ms: int) -> None:
        assert self.ep is not None
        self.ep.libHandleEvents(timeout_ms)

    def stop(self) -> None:
        if self.ep is None:
            return
        # Calls, ports and accounts must go before libDestroy or pjsua asserts.
        for fn in self.on_stop:
            try:
                fn()
            except Exception:
                log.exception("media engine stop hook failed")
        gc.collect()
        self.ep.libDestroy()
        self.ep = None

    def counts(self) -> dict[str, int]:
        """Live pjsua calls and conference-bridge ports (core thread), for leak watching:
        at idle they must come back to their idle values."""
        if self.ep is None:
            return {"pjsua_calls": 0, "conference_ports": 0}
        calls = sum(1 for call_id in range(self.max_calls) if pj.Call.lookup(call_id) is not None)
        return {"pjsua_calls": calls, "conference_ports": self.ep.mediaActivePorts()}

    def media_transport_config(self) -> "pj.TransportConfig":
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = self.media_host
        tcfg.port = 0  # any free RTP port pair; pjsua picks
        return tcfg
