"""The composition root: the one place that builds and wires every part (docs/architecture.md)."""
from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from hardware.gpio.leds import StatusLeds
from pbx import heap, systemd
from pbx.calls.b2bua import B2bua
from pbx.config import RunConfig
from pbx.contacts.history import ringing_summary
from pbx.core import Core
from pbx.errors import ConfigError
from pbx.events import EventBus
from pbx.leds import LedController
from pbx.media.engine import MediaEngine
from pbx.services import STOPPED, Services, open_services
from pbx.sip.edge import SipEdge
from pbx.sip.guard import Guard
from pbx.store.settings import ON, Settings, SettingsView

log = logging.getLogger(__name__)


def _secret_key(data_dir: Path) -> bytes:
    """Flask session key, made once per device and kept private to root."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _guard(settings: Settings) -> Guard:
    """The edge's ban rules from the owner's settings (pbx config set ...)."""
    try:
        return Guard(ban_scanners=str(settings.get("sip_ban_scanners", "on")).lower() in ON,
                     allow=str(settings.get("sip_allow_networks", "")))
    except ValueError as exc:
        raise ConfigError("settings", "sip_allow_networks", str(exc)) from None


def _loopback_for(host: str) -> str:
    """Where the core reaches the edge: its own address, or loopback for a wildcard bind."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


class Appliance:
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.bus = EventBus()
        self.services: Services | None = None
        self.core: Core | None = None
        self.engine: MediaEngine | None = None
        self.edge: SipEdge | None = None
        self.b2bua: B2bua | None = None
        self.web: Any = None
        self.first_password: str | None = None
        self.leds: StatusLeds | None = None
        self.trunks: Any = None
        self.lines: Any = None
        self.plan: Any = None
        self.players: Any = None
        self.callers: Any = None
        self.crm_recorder: Any = None
        self.crm: list[Any] = []  # the CRM recorder, webhook delivery and SSE hub
        self.recording: Any = None  # pbx.recording.service.RecordingService
        self.recorders: Any = None  # pbx.calls.recording.CallRecorders (the core's part)

    def start(self) -> None:
        heap.limit_arenas()  # before the first of the daemon's threads allocates
        cfg = self.cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(cfg.data_dir)
        realm = settings.get("sip_realm", "pbx")
        algorithms = tuple(a.strip().upper() for a in
                           str(settings.get("sip_digest_algorithms", "MD5")).split(","))
        guard = _guard(settings)
        settings.close()
        services = self.services = open_services(cfg.data_dir, realm, live=True)
        self.first_password = services.admin.ensure_admin()
        self.leds = StatusLeds(simulated=cfg.simulated_hardware)
        LedController(self.leds, self.bus)

        sip_host, sip_port = cfg.sip
        edge_host = _loopback_for(sip_host)
        media_host = "" if edge_host != sip_host else sip_host
        self.engine = MediaEngine("127.0.0.1", 0, media_host=media_host)
        self.core = Core(self.engine, heartbeat=lambda: systemd.notify("WATCHDOG=1"), collect_garbage=True)
        self.core.start()

        self.edge = SipEdge(sip_host, sip_port, core_addr=("127.0.0.1", self.engine.sip_port),
                            credentials=services.extensions, realm=realm, bus=self.bus,
                            digest_algorithms=algorithms, guard=guard)
        self.edge.start()
        self.b2bua = B2bua(self.core, services.extensions, self.edge.registrar, services.journal,
                           self.bus, edge_addr=(edge_host, self.edge.port),
                           ring_timeout=cfg.ring_timeout)
        self.core.call(self.b2bua.start, self.engine)
        core, b2bua = self.core, self.b2bua

        def on_refer(call_id: str, number: str, referrer: str, cseq: int, notify: bool) -> None:
            core.submit(b2bua.transfer, call_id, number, referrer, cseq, notify)

        self.edge.on_refer = on_refer

        self._start_crm(services)  # before the lines: their first line.up is an event too
        self._start_lines(services)
        self._start_plan(services)
        self._start_callers(services)
        self._start_recording(services)
        services.lines = self.line_states
        services.send_sms = self.trunks.send_sms
        services.ussd = self.trunks.ussd
        services.registrations = self.edge.registrar.snapshot
        services.bans, services.clear_bans = guard.bans, guard.clear
        services.active_calls = self.active_calls
        services.status = self.status
        self._start_web(services)
        self._write_control_file(services)
        gc.collect()
        gc.freeze()  # what start-up made lives as long as the daemon: keep it out of every collection
        self.bus.publish("ready")
        systemd.notify("READY=1")

    def _start_lines(self, services: Services) -> None:
        """The configured trunks' lines; in development mode a first start configures one
        simulated GSM line, gsm1 (SIM7600 on a pty), so calls can be tried at once."""
        from pbx.calls.lines import LineManager
        from pbx.calls.trunk import TrunkCalls
        from pbx.store.trunks import new_trunk

        assert self.core is not None and self.b2bua is not None
        settings = Settings(self.cfg.data_dir)
        if self.cfg.simulated_hardware and not settings.get("dev_trunk_added"):
            if services.trunks.get("gsm1") is None:
                services.trunks.add(new_trunk("gsm1", "gsm", "sim7600", "sim"))
            settings.set("dev_trunk_added", True)
        settings.close()
        self.trunks = TrunkCalls(self.core, self.b2bua, sms_journal=services.journal)
        self.b2bua.trunks = self.trunks
        self.lines = LineManager(services.trunks, self.trunks, self.core,
                                 simulators_allowed=self.cfg.simulated_hardware,
                                 sim_dir=self.cfg.data_dir / "sim", simulators=services.simulators).start()

    def _start_plan(self, services: Services) -> None:
        """The dial plan decides where calls go; prompts play through shared players.
        The system prompts are spoken on a worker thread (espeak-ng takes a moment)."""
        from pbx.dialplan.engine import DialPlan
        from pbx.media.players import PromptPlayers

        assert self.core is not None and self.b2bua is not None and self.engine is not None
        if services.dialplan is None:
            return
        self.players = PromptPlayers(self.core.submit, self.core.call_later).attach(self.engine)
        self.plan = DialPlan(self.b2bua, services.dialplan, services.prompts, self.players)
        self.b2bua.plan = self.plan
        if services.prompts is not None:
            threading.Thread(target=self._system_prompts, args=(services.prompts,), name="prompts",
                             daemon=True).start()

    def _start_callers(self, services: Services) -> None:
        """Caller ID against the contacts, in memory on the ring path; the repeat callers'
        memory seeded from the journal once, here."""
        from pbx.contacts.callers import CallerDirectory

        assert self.b2bua is not None
        self._caller_settings = Settings(self.cfg.data_dir)
        self.callers = CallerDirectory(services.contacts, self._caller_settings.get)
        self.callers.seed_from(services.journal)
        self.callers.follow_settings()
        self.b2bua.callers = self.callers
        if services.contacts is not None:  # webhooks and screen-pops hear of every change
            services.contacts.on_change = lambda kind, payload: self.bus.publish("contact_changed", kind=kind,
                                                                                 **payload)
        services.caller_policy = lambda: self.callers.policy
        recorder = self.crm_recorder
        if recorder is not None:  # call.ringing carries the caller's history (on the recorder's thread)
            recorder.ringing_extra = lambda data: self._ringing_history(services, data)

    def _start_recording(self, services: Services) -> None:
        """The core's recorders, and the worker threads behind them: compression, retention
        and the disk guard, which also re-reads the recording settings for the core."""
        from pbx.calls.recording import CallRecorders
        from pbx.recording.service import RecordingService

        assert self.core is not None and self.b2bua is not None
        if services.recordings is None:
            return
        self._recording_settings = SettingsView(self.cfg.data_dir)
        interval = float(os.environ.get("PBX_RECORDING_INTERVAL", "5"))  # tests: a quicker disk guard
        self.recording = RecordingService(services.recordings, self._recording_settings, bus=self.bus,
                                          audit=services.audit, interval=interval).start()
        plan = services.dialplan
        journal = services.journal
        self.recorders = CallRecorders(
            self.b2bua, services.recordings, self.recording.compressor, setting=self._recording_settings.get,
            snapshot=(plan.snapshot if plan is not None else lambda: None), allowed=self.recording.allowed,
            record_written=lambda call_id: journal.get(call_id) is not None)
        self.b2bua.recorders = self.recorders
        recorders, core = self.recorders, self.core
        services.record_control = lambda call_id, action: core.call(recorders.control, call_id, action)

    @staticmethod
    def _ringing_history(services: Services, data: dict) -> dict:
        if data.get("direction") != "inbound" or not data.get("caller"):
            return {}
        return {"history": ringing_summary(services.caller_history(data["caller"], limit=5))}

    def _start_crm(self, services: Services) -> None:
        """Bus events into the outbox (the recorder's thread), a delivery worker per webhook
        endpoint, and the SSE hub for /api/v1/events. The call history for call.ringing is
        plugged in as recorder.ringing_extra."""
        from pbx.crm.config import CrmConfig
        from pbx.crm.delivery import DeliveryService
        from pbx.crm.recorder import Recorder
        from pbx.crm.sse import EventHub

        if services.outbox is None or services.webhooks is None:
            return
        settings = Settings(self.cfg.data_dir)
        crm = CrmConfig.load(settings.get)
        settings.close()
        services.events = EventHub(services.outbox, max_clients=crm.sse_clients, keepalive=crm.sse_keepalive)
        self.crm_recorder = Recorder(self.bus, services.outbox).start()
        if self.b2bua is not None:  # call records go in turn with the call's events, off the core
            self.b2bua.journal = self.crm_recorder
        self.crm = [self.crm_recorder, DeliveryService(services.outbox, services.webhooks, self.bus, crm).start(),
                    services.events]

    @staticmethod
    def _system_prompts(prompts: Any) -> None:
        try:
            prompts.ensure_system_prompts()
        except Exception:
            log.exception("the system prompts could not be made")

    def _start_web(self, services: Services) -> None:
        from webadmin.app import create_app
        from webadmin.server import WebServer

        settings = Settings(self.cfg.data_dir)
        api_rate_limit = settings.get("api_rate_limit")  # pbx config set api_rate_limit "600 per minute"
        settings.close()
        app = create_app(services, secret_key=_secret_key(self.cfg.data_dir), api_rate_limit=api_rate_limit)
        sse = services.events.max_clients if services.events is not None else 0
        self.web = WebServer(app, *self.cfg.http, threads=4 + sse)  # SSE streams hold a thread each
        self.web.start()

    def status(self) -> dict:
        edge = dict(self.edge.stats) if self.edge else {}
        core = self.core.call(self.b2bua.status, timeout=2.0) if self.core and self.b2bua else {}
        media = self.core.call(self.engine.counts, timeout=2.0) if self.core and self.engine else {}
        return {"edge": edge, "core": core, "media": media, "lines": self.line_states(),
                "registrations": self.edge.registrar.count() if self.edge else 0}

    def line_states(self) -> dict[str, dict]:
        """Live state per configured trunk ('down' with the reason when it cannot run)."""
        if self.core is None or self.trunks is None or self.lines is None:
            return {}
        states = self.core.call(self.trunks.snapshot, timeout=2.0)
        for name, problem in dict(self.lines.problems).items():
            states[name] = {**STOPPED, "state": "down", "problem": problem}
        return states

    def _write_control_file(self, services: Services) -> None:
        """Where `pbx sim ...` finds this daemon: its web address and a token of its own
        (root-only file; the token is revoked at stop)."""
        name = f"local-cli-{os.getpid()}"
        try:
            services.tokens.revoke(name)
        except Exception:
            pass
        token = services.tokens.create(name)
        path = self.cfg.data_dir / "daemon.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"url": self.web_url, "token": token, "token_name": name, "pid": os.getpid()}, fh)
        self._control = (path, name)

    def active_calls(self) -> list[dict]:
        if self.core is None or self.b2bua is None:
            return []
        return self.core.call(self.b2bua.active_calls, timeout=2.0)

    @property
    def web_url(self) -> str:
        host, port = self.cfg.http
        if self.web is not None and getattr(self.web, "port", None):
            port = self.web.port
        return f"http://{host}:{port}"

    def stop(self) -> bool:
        """Stop everything; False if the media engine did not shut down in time."""
        systemd.notify("STOPPING=1")
        clean = True
        if self.crm:
            self.crm[-1].close()  # the SSE streams end, so the web server can stop
        if self.web is not None:
            self.web.stop()
        if self.core is not None and self.b2bua is not None:
            try:
                self.core.call(self.b2bua.hangup_all, timeout=5.0)
                time.sleep(0.3)  # let the BYEs cross the edge before it closes
            except Exception:
                log.exception("hanging up calls at shutdown failed")
        if self.lines is not None:
            self.lines.stop()
        if self.callers is not None:
            self.callers.stop()
            self._caller_settings.close()
        if self.edge is not None:
            self.edge.stop()
        if self.core is not None and not self.core.stop():
            log.error("the media engine did not stop in time")
            clean = False
        if self.recorders is not None:  # the last hang-ups' files into the store, then compressed or kept
            self.recorders.close()
        if self.recording is not None:
            self.recording.stop()
            self._recording_settings.close()
        for part in self.crm[:2]:  # the last call records' events are written, then sent or kept
            part.stop()
        if self.services is not None:
            control = getattr(self, "_control", None)
            if control is not None:
                control[0].unlink(missing_ok=True)
                try:
                    self.services.tokens.revoke(control[1])
                except Exception:
                    pass
            self.services.close()
        if self.leds is not None:
            self.leds.close()
        return clean
