"""The soak test's steady SIP load: SIPp calls between extensions with RTP both ways,
phones that register, re-register and unregister, and the web admin and REST bridge
polled. Each driver counts what went right and wrong in a shared Tally."""
from __future__ import annotations

import itertools
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from tests.support import sipp
from tests.support.daemon import Daemon, free_port


class Tally:
    """Thread-safe counts of successes and failures per kind, with the first messages."""

    def __init__(self) -> None:
        self.ok: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def good(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.ok[kind] += n

    def bad(self, kind: str, message: str, n: int = 1) -> None:
        with self._lock:
            self.failed[kind] += n
            if len(self.messages) < 200:
                self.messages.append(f"{time.strftime('%H:%M:%S')} {kind}: {message}")


_SPAWNED: list[subprocess.Popen] = []
_OUTPUT: dict[int, Path] = {}
_NUMBERS = itertools.count()


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    """SIPp in the background with its screen in a file (a pipe nobody reads would fill
    and stop it within a minute), remembered so that kill_all() can end it."""
    _SPAWNED[:] = [p for p in _SPAWNED if p.poll() is None]
    out = cwd / f"sipp-{next(_NUMBERS)}.out"
    with open(out, "w") as fh:
        proc = subprocess.Popen(args, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, text=True)
    _SPAWNED.append(proc)
    _OUTPUT[proc.pid] = out
    return proc


def finish(proc: subprocess.Popen, timeout: float) -> sipp.SippResult:
    """Wait for a spawned SIPp; its counts from the last screen it printed."""
    proc.wait(timeout)
    path = _OUTPUT.pop(proc.pid)
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 40000))
        text = fh.read().decode("latin-1")
    path.unlink()
    ok, bad = sipp.parse_counts(text)
    return sipp.SippResult(proc.returncode, text[-3000:], "", ok, bad)


def sipp_errors(work: Path, pid: int) -> str:
    """The last lines of the -trace_err log of that SIPp (why its calls failed)."""
    logs = list(work.glob(f"*_{pid}_errors.log"))
    if not logs:
        return "no SIPp error log"
    lines = [ln for ln in logs[0].read_text(errors="replace").splitlines()
             if ln.strip() and "jumping to label" not in ln]  # a ring that ran its time
    return " | ".join(lines[-6:])[-800:]


def kill_all() -> None:
    for proc in _SPAWNED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


CALLERS = [(str(2000 + i), f"soak-Caller-{i:02d}x") for i in range(8)]
CALLEES = [(str(3000 + i), f"soak-Callee-{i:02d}y") for i in range(8)]
CHURNERS = [(str(4000 + i), f"soak-Churn-{i:02d}z") for i in range(10)]


ROUND_S = 1800  # the callees renew their registrations (3600 s at most) every round


class SipCalls(threading.Thread):
    """One SIPp caller placing calls at `per_5s` calls per 5 s, each held hold_s with looped
    speech one way and echoed back by one SIPp callee for all eight callees.

    A phone renews its registration before it expires, from the port it takes calls on.
    SIPp cannot register from a port its callee holds, so the load runs in rounds of at
    most ROUND_S: the caller's calls end, the callee stops, the callees register again
    from that port, and the next round starts (a gap of about hold_s)."""

    def __init__(self, daemon: Daemon, work: Path, seconds: float, stream: str, tally: Tally,
                 per_5s: int = 2, hold_s: int = 10, round_s: int = ROUND_S) -> None:
        super().__init__(name="sip-calls", daemon=True)
        self.daemon, self.work, self.tally = daemon, work, tally
        self.per_5s, self.hold_s, self.stream = per_5s, hold_s, stream
        round_s = max(60, round_s)
        self.rounds = [min(round_s, seconds - start) for start in range(0, max(1, int(seconds)), round_s)]
        self.uas_port, self.uas_media = free_port(), free_port()
        self.uac: subprocess.Popen | None = None
        self.uas: subprocess.Popen | None = None
        self.stop_event = threading.Event()  # kill() sets it: no next round
        self.rounds_run = 0

    def _calls(self, seconds: float) -> int:
        return max(1, int(seconds / 5 * self.per_5s))

    def register(self) -> bool:
        csv = sipp.users_csv(self.work / "callees.csv", CALLEES)
        res = sipp.run(sipp.sipp_args("call_register.xml", self.daemon.sip, csv=csv,
                                      local_port=self.uas_port, calls=len(CALLEES), rate=10), self.work)
        return res.successful == len(CALLEES)

    def run(self) -> None:
        self.rounds_run = 0
        try:
            for n, seconds in enumerate(self.rounds):
                if self.stop_event.is_set():
                    return
                if n and not self.register():
                    self.tally.bad("sip callee", f"round {n + 1}: the callees could not register again",
                                   len(CALLEES))
                if self.stop_event.is_set():  # kill() came during the registration
                    return
                self._round(seconds)
                self.rounds_run += 1
        except Exception as exc:  # a dead load thread must fail the soak, not thin its load
            self.tally.bad("sip caller", f"the SIP load stopped: {exc!r}")

    def _round(self, seconds: float) -> None:
        timeout_s = int(seconds) + 600
        # The callee rings 1 s before it answers, so on a line call (which rings every
        # phone) the GSM desk phone, answering at once, is the one that gets it.
        self.uas = spawn(sipp.sipp_args(
            "uas_soak.xml", self.daemon.sip, csv=sipp.users_csv(self.work / "uas.csv", CALLEES),
            local_port=self.uas_port, calls=10**6,
            params={"RTPPORT": str(self.uas_media), "RINGMS": "1000"},
            extra=["-mp", str(self.uas_media), "-rtp_echo"], timeout_s=timeout_s), self.work)
        time.sleep(0.5)
        rows = [(*c, callee[0]) for c, callee in zip(CALLERS, CALLEES, strict=True)]
        media, calls = free_port(), self._calls(seconds)
        self.uac = spawn(sipp.sipp_args(
            "uac_call.xml", self.daemon.sip, csv=sipp.users_csv(self.work / "uac.csv", rows),
            local_port=free_port(), calls=calls, rate=self.per_5s,
            params={"RTPPORT": str(media), "RTPSTREAM": self.stream}, flags={"caller_hangs_up"},
            extra=["-rp", "5000", "-mp", str(media), "-d", str(self.hold_s * 1000), "-l", "10"],
            timeout_s=timeout_s), self.work)
        self._collect(calls, timeout=seconds + self.hold_s + 120)

    def _collect(self, calls: int, timeout: float) -> None:
        """Wait for the caller's last call, then stop the callee softly (SIGUSR1)."""
        for name, proc in (("sip caller", self.uac), ("sip callee", self.uas)):
            if proc is None:
                continue
            if name == "sip callee" and proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)
            try:
                res = finish(proc, timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                res = finish(proc, timeout=10)
                self.tally.bad(name, "SIPp had to be killed")
            self.tally.good(name, res.successful)
            if res.failed:
                self.tally.bad(name, f"{res.failed} failed; {sipp_errors(self.work, proc.pid)}", res.failed)
            if name == "sip caller" and res.successful + res.failed < calls:
                self.tally.bad(name, f"only {res.successful + res.failed} of {calls} calls placed",
                               calls - res.successful - res.failed)
            timeout = 30  # the callee's calls ended with the caller's

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        if self.is_alive():
            self.tally.bad("sip caller", "the SIP load did not end in time")
        elif self.rounds_run < len(self.rounds):
            self.tally.bad("sip caller", f"{self.rounds_run} of {len(self.rounds)} rounds of calls ran")

    def kill(self) -> None:
        self.stop_event.set()
        for proc in (self.uac, self.uas):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


class Churn(threading.Thread):
    """A phone comes every `every` s: registers, re-registers after hold_s, unregisters
    after hold_s more; each from a port of its own, one extension of ten after the other."""

    def __init__(self, daemon: Daemon, work: Path, tally: Tally, every: float = 6.0,
                 hold_s: int = 12) -> None:
        super().__init__(name="churn", daemon=True)
        self.daemon, self.work, self.tally = daemon, work, tally
        self.every, self.hold_s = every, hold_s
        self.stop_event = threading.Event()
        self.running: list[subprocess.Popen] = []

    def run(self) -> None:
        n = 0
        while not self.stop_event.wait(self.every if n else 0):
            user = CHURNERS[n % len(CHURNERS)]
            csv = sipp.users_csv(self.work / f"churn{n % len(CHURNERS)}.csv", [user])
            self.running.append(spawn(sipp.sipp_args(
                "register_churn.xml", self.daemon.sip, csv=csv, local_port=free_port(),
                params={"EXPIRES": "60", "HOLDMS": str(self.hold_s * 1000)},
                timeout_s=self.hold_s * 2 + 30), self.work))
            n += 1
            self._reap(wait=False)
        self._reap(wait=True)

    def _reap(self, wait: bool) -> None:
        for proc in list(self.running):
            if not wait and proc.poll() is None:
                continue
            try:
                res = finish(proc, timeout=self.hold_s * 2 + 40)
            except subprocess.TimeoutExpired:
                proc.kill()
                res = finish(proc, timeout=10)
            self.running.remove(proc)
            if res.successful == 1:
                self.tally.good("registration churn")
            else:
                self.tally.bad("registration churn", res.explain()[-400:])

    def kill(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


PAGES = ["/", "/lines", "/messages", "/calls", "/extensions"]
API = ["calls", "calls/active", "trunks", "registrations", "status", "sms"]
NEW_PASSWORD = "Soak-Owner-Pass-2024"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""


def web_login(url: str, first_password: str) -> requests.Session:
    """Log in with the one-time password and choose a new one, as the owner would."""
    web = requests.Session()
    form = {"user": "admin", "password": first_password,
            "csrf_token": _csrf(web.get(url + "/login", timeout=10).text)}
    page = web.post(url + "/login", data=form, timeout=10)
    if "Choose your own password" not in page.text:
        raise RuntimeError(f"login failed: HTTP {page.status_code}")
    form = {"new": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf_token": _csrf(page.text)}
    page = web.post(url + "/password", data=form, timeout=10)
    if page.status_code != 200 or "Choose your own password" in page.text:
        raise RuntimeError(f"password change failed: HTTP {page.status_code}")
    return web


class WebPoller(threading.Thread):
    """A page of the web admin and a REST resource every `every` s, in turn."""

    def __init__(self, daemon: Daemon, tally: Tally, every: float = 2.0) -> None:
        super().__init__(name="web", daemon=True)
        self.daemon, self.tally, self.every = daemon, tally, every
        self.stop_event = threading.Event()
        self.session: requests.Session | None = None

    def run(self) -> None:
        assert self.daemon.first_password
        try:
            self.session = web_login(self.daemon.url, self.daemon.first_password)
        except Exception as exc:
            self.tally.bad("web", f"login: {exc}")
            return
        n = 0
        while not self.stop_event.wait(self.every):
            page, resource = PAGES[n % len(PAGES)], API[n % len(API)]
            n += 1
            try:
                resp = self.session.get(self.daemon.url + page, timeout=10, allow_redirects=False)
                if resp.status_code != 200:
                    raise RuntimeError(f"{page}: HTTP {resp.status_code}")
                self.tally.good("web page")
                self.daemon.api(resource)
                self.tally.good("rest")
            except Exception as exc:
                self.tally.bad("web", f"{page} / {resource}: {exc}")
        self.session.close()  # the daemon's fd for this keep-alive connection goes too
