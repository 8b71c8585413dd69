"""Webhook delivery: one thread per enabled endpoint (never the core thread), each sending
its endpoint's events strictly in order: the next waits until the one before is delivered
or dead. 2xx is delivered; anything else (another status, a timeout, a refused connection,
an answer that is not HTTP) is retried with exponential backoff and jitter, or after the
endpoint's Retry-After; an event still failing after the dead-letter age is dead and an
outbox.dead_letter alert is published. Workers sleep until woken by a new event or their
next retry is due (and look again every few seconds for changes made by the CLI)."""
from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import urllib.parse
from typing import Any

import requests

from pbx.crm import signing
from pbx.crm.config import Clock, CrmConfig
from pbx.crm.outbox import Delivery, Outbox
from pbx.crm.webhooks import Endpoint, WebhookStore

log = logging.getLogger(__name__)
RETENTION = 30 * 86400.0  # delivered and dead events are forgotten after 30 days
PRUNE_EVERY = 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as delay seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(failures: int, base: float, cap: float, rng: random.Random | Any = random) -> float:
    """Exponential backoff with 'equal jitter': half the delay fixed, half random, so
    endpoints coming back are not hit by every retry at once and never hammered."""
    delay = min(cap, base * 2 ** max(failures - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)


def retry_delay(failures: int, retry_after: float | None, cfg: CrmConfig, rng: Any = random) -> float:
    if retry_after is not None:
        return min(retry_after, cfg.dead_letter_after)
    return backoff(failures, cfg.retry_base, cfg.retry_max, rng)


def public_url(url: str, error: str) -> tuple[str, str]:
    """The endpoint's address without what may be a secret (user:password@, the query
    string) and the error with those taken out: the alert goes to every other endpoint."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    shown = urllib.parse.urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""),
                                     parts.path, "", ""))
    for secret in (parts.query, parts.username, parts.password):
        if secret:
            error = error.replace(secret, "***")
    return shown, error


class EndpointWorker:
    def __init__(self, endpoint: Endpoint, outbox: Outbox, cfg: CrmConfig, clock: Clock, bus: Any) -> None:
        self.endpoint = endpoint  # replaced in place when the owner edits it (url, secret)
        self.outbox, self.cfg, self.clock, self.bus = outbox, cfg, clock, bus
        self._wake, self._stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"webhook-{endpoint.id}", daemon=True)

    def start(self) -> "EndpointWorker":
        self.thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            self._wake.clear()  # before looking: a wake-up during the look is not lost
            try:
                head = self.outbox.head(self.endpoint.id)
            except Exception:
                log.exception("webhook %s: cannot read the outbox", self.endpoint.id)
                self._wake.wait(self.cfg.resync)
                continue
            if head is None:
                self._wake.wait(self.cfg.resync)
                continue
            due_in = head.next_at - time.time()
            if due_in > 0:
                self._wake.wait(min(due_in, self.cfg.resync))
                continue
            try:
                self._attempt(session, head)
            except Exception:  # the outbox could not be updated: look again shortly
                log.exception("webhook %s: delivery bookkeeping failed", self.endpoint.id)
                self._stop.wait(1.0)
        session.close()

    def _attempt(self, session: requests.Session, delivery: Delivery) -> None:
        endpoint, event = self.endpoint, delivery.event
        body = event.payload.encode()
        headers = {**signing.headers(endpoint.secret, event.msg_id, body),
                   "Content-Type": "application/json", "User-Agent": "pbx-appliance"}
        status: int | None = None
        retry_after = None
        try:
            resp = session.post(endpoint.url, data=body, headers=headers, timeout=self.cfg.request_timeout,
                                allow_redirects=False)
            status = resp.status_code
            resp.close()
            if 200 <= status < 300:
                self.outbox.delivered(delivery.id, status)
                return
            error = f"HTTP {status}"
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        if self._stop.is_set():  # cut short by stop(): not the endpoint's failure
            return
        failures = delivery.attempts + 1
        if self.clock.age(event.at) >= self.cfg.dead_letter_after:
            self.outbox.dead(delivery.id, error, status)
            log.warning("webhook %s: event %s is a dead letter after %d attempts (%s)", endpoint.id,
                        event.msg_id, failures, error)
            if event.type != "outbox.dead_letter":  # no alert about an alert: no endless chain
                url, shown_error = public_url(endpoint.url, error)
                self.bus.publish("outbox_dead_letter", delivery=delivery.id, endpoint=endpoint.id,
                                 url=url, event=event.msg_id, event_type=event.type,
                                 attempts=failures, error=shown_error)
            return
        delay = retry_delay(failures, retry_after, self.cfg)
        self.outbox.failed(delivery.id, error, status, self.clock.after(delay))


class DeliveryService:
    """Keeps one worker per enabled endpoint, wakes them on new events."""

    def __init__(self, outbox: Outbox, webhooks: WebhookStore, bus: Any, cfg: CrmConfig) -> None:
        self.outbox, self.webhooks, self.bus, self.cfg = outbox, webhooks, bus, cfg
        self.clock = Clock(cfg.clock_speed)
        self._lock = threading.Lock()
        self.workers: dict[str, EndpointWorker] = {}
        self._stopping: dict[str, EndpointWorker] = {}  # a stopped worker may still be in a request
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        outbox.listeners.append(lambda _event: self.wake())
        outbox.wake = self.wake
        webhooks.on_change = self.sync

    def start(self) -> "DeliveryService":
        self.sync()
        self._thread.start()
        return self

    def wake(self) -> None:
        for worker in list(self.workers.values()):
            worker.wake()

    def sync(self) -> None:
        """Workers for the enabled endpoints as stored now (the CLI may have changed them)."""
        if self._stop.is_set():
            return
        wanted = {e.id: e for e in self.webhooks.list() if e.enabled}
        with self._lock:
            self._stopping = {k: w for k, w in self._stopping.items() if w.thread.is_alive()}
            for endpoint_id in set(self.workers) - set(wanted):
                worker = self.workers.pop(endpoint_id)
                worker.stop()
                self._stopping[endpoint_id] = worker
            for endpoint_id, endpoint in wanted.items():
                if endpoint_id in self.workers:
                    self.workers[endpoint_id].endpoint = endpoint
                elif endpoint_id not in self._stopping:  # never two senders for one endpoint
                    self.workers[endpoint_id] = EndpointWorker(endpoint, self.outbox, self.cfg,
                                                               self.clock, self.bus).start()

    def _run(self) -> None:
        pruned = 0.0
        while not self._stop.wait(self.cfg.resync):
            try:
                self.sync()
                self.wake()  # a retry or drop made by the CLI, in another process
                if time.monotonic() - pruned > PRUNE_EVERY:
                    pruned = time.monotonic()
                    self.outbox.prune(time.time() - RETENTION)
            except Exception:
                log.exception("webhook supervisor failed")

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        with self._lock:
            workers = [*self.workers.values(), *self._stopping.values()]
            self.workers.clear()
        for worker in workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
