"""The soak test's phone-line load on the simulated GSM line gsm1, one step at a time:
a call in (caller ID, answer by the desk phone, keys 1 2 3, the caller hangs up) with an
SMS in after it, a call out (9 + number, the far end answers, the extension hangs up)
with an SMS out, and every few minutes the modem unplugged and plugged back."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tests.bench.soak_load import Tally, finish, spawn
from tests.support import sipp
from tests.support.daemon import Daemon, free_port, wait_until
from tests.support.rtp import RtpEndpoint

DESK = ("150", "soak-Desk-phone-1")  # answers the line's calls
OUT = ("151", "soak-Out-caller-2")  # dials out on the line
TRUNK = "gsm1"


class GsmDriver(threading.Thread):
    def __init__(self, daemon: Daemon, work: Path, tally: Tally, every: float = 30.0,
                 fault_every: float = 240.0) -> None:
        super().__init__(name="gsm", daemon=True)
        self.daemon, self.work, self.tally = daemon, work, tally
        self.every, self.fault_every = every, fault_every
        self.stop_event = threading.Event()
        self.desk_port = free_port()

    # ---- helpers ---------------------------------------------------------------------
    def sim(self) -> dict:
        return self.daemon.api(f"sim/{TRUNK}")  # type: ignore[return-value]

    def line_state(self) -> str:
        return self.daemon.api(f"trunks/{TRUNK}")["state"]  # type: ignore[index]

    def record(self, since: float, direction: str, peer: str) -> dict | None:
        """The call record of this call once it lands (~0.5 s after the hang-up)."""
        def find() -> dict | None:
            for rec in self.daemon.api(f"calls?since={since}&limit=50"):  # type: ignore[union-attr]
                if rec["direction"] == direction and peer in (rec["caller"], rec["callee"]):
                    return rec
            return None
        wait_until(lambda: find() is not None, timeout=10, every=0.5)
        return find()

    def check(self, kind: str, problems: list[str]) -> None:
        if problems:
            self.tally.bad(kind, "; ".join(problems))
        else:
            self.tally.good(kind)

    def ended_cleanly(self, since: float, direction: str, peer: str, problems: list[str]) -> None:
        if not wait_until(lambda: self.sim()["state"] == "idle", timeout=10, every=0.5):
            problems.append(f"line still {self.sim()['state']}")
        rec = self.record(since, direction, peer)
        if rec is None or rec["disposition"] != "answered":
            problems.append(f"call record {rec and rec['disposition']}")

    # ---- the steps ---------------------------------------------------------------------
    def call_in(self, n: int) -> None:
        since, number = time.time() - 1, f"8916{n:07d}"
        problems: list[str] = []
        csv = sipp.users_csv(self.work / "desk.csv", [DESK])
        reg = sipp.run(sipp.sipp_args("call_register.xml", self.daemon.sip, csv=csv,
                                      local_port=self.desk_port), self.work)
        if reg.successful != 1:
            self.tally.bad("gsm call in", "the desk phone did not register")
            return
        audio = RtpEndpoint(1300).start()
        phone = spawn(sipp.sipp_args("uas_call.xml", self.daemon.sip, csv=csv,
                                          local_port=self.desk_port,
                                          params={"RTPPORT": str(audio.port)}), self.work)
        try:
            time.sleep(0.3)
            res = self.daemon.pbx("sim", "call", "--trunk", TRUNK, "--from", number, "--tone", "1000",
                                  "--dtmf", "123", "--hangup-after", "6", check=False)
            if res.returncode != 0:
                problems.append(f"pbx sim call: {res.stderr.strip()[-300:]}")
            result = finish(phone, timeout=30)
            if result.successful != 1:
                problems.append(f"desk phone: {result.explain()[-300:]}")
            if audio.digits != ["1", "2", "3"]:
                problems.append(f"keys heard {audio.digits}")
            if audio.packets_in < 100:
                problems.append(f"{audio.packets_in} RTP packets heard")
            self.ended_cleanly(since, "inbound", "+7" + number[1:], problems)
        except Exception as exc:
            problems.append(repr(exc))
        finally:
            audio.stop()
            if phone.poll() is None:
                phone.kill()
                phone.wait()
        self.check("gsm call in", problems)

    def call_out(self, n: int) -> None:
        since, number = time.time() - 1, f"8495{n:07d}"
        problems: list[str] = []
        audio = RtpEndpoint(700).start()
        phone = spawn(sipp.sipp_args(
            "uac_call.xml", self.daemon.sip,
            csv=sipp.users_csv(self.work / "out.csv", [(*OUT, "9" + number)]),
            local_port=free_port(), params={"RTPPORT": str(audio.port)},
            flags={"caller_hangs_up"}, extra=["-d", "6000"]), self.work)
        try:
            if not wait_until(lambda: self.sim()["state"] == "dialing", timeout=15, every=0.3):
                problems.append(f"the line did not dial (state {self.sim()['state']})")
            elif self.sim()["dialed"][-1:] != [number]:
                problems.append(f"dialled {self.sim()['dialed'][-1:]}")
            else:
                self.daemon.api(f"sim/{TRUNK}/answer", {"tone_hz": 1000})
            result = finish(phone, timeout=40)
            if result.successful != 1:
                problems.append(f"caller: {result.explain()[-300:]}")
            if audio.packets_in < 100:
                problems.append(f"{audio.packets_in} RTP packets heard")
            self.ended_cleanly(since, "outbound", "+7" + number[1:], problems)
        except Exception as exc:
            problems.append(repr(exc))
        finally:
            audio.stop()
            if phone.poll() is None:
                phone.kill()
                phone.wait()
        self.check("gsm call out", problems)

    def sms_in(self, n: int) -> None:
        text = f"soak in {n} Перезвоните"
        res = self.daemon.pbx("sim", "sms", "--trunk", TRUNK, "--from", "+79161112233", "--text", text,
                              check=False)
        got = wait_until(lambda: any(m["direction"] == "in" and m["text"] == text
                                     for m in self.daemon.api("sms?limit=20")), timeout=20, every=0.5)
        self.check("sms in", [] if res.returncode == 0 and got else [f"not received: {res.stderr[-200:]}"])

    def sms_out(self, n: int) -> None:
        before = len(self.sim()["sent_sms"])
        try:
            sent = self.daemon.api("sms", {"to": "+79161112233", "text": f"soak out {n}"})
            ok = sent["status"] == "sent" and len(self.sim()["sent_sms"]) > before  # type: ignore[index]
            self.check("sms out", [] if ok else [json.dumps(sent)[:200]])
        except Exception as exc:
            self.tally.bad("sms out", repr(exc))

    def unplug_replug(self) -> None:
        problems = []
        self.daemon.api(f"sim/{TRUNK}/fault", {"kind": "unplug"})
        if not wait_until(lambda: self.line_state() == "down", timeout=20, every=0.5):
            problems.append(f"line {self.line_state()} after unplug")
        time.sleep(5)
        self.daemon.api(f"sim/{TRUNK}/fault", {"kind": "replug"})
        if not wait_until(lambda: self.line_state() == "idle", timeout=60, every=0.5):
            problems.append(f"line {self.line_state()} 60 s after replug")
        self.check("modem unplug/replug", problems)

    # ---- the schedule --------------------------------------------------------------------
    def run(self) -> None:
        n, next_fault = 0, time.monotonic() + self.fault_every / 2
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                if not wait_until(lambda: self.line_state() == "idle", timeout=60, every=0.5):
                    self.tally.bad("gsm line", f"not idle before step {n}: {self.line_state()}")
                elif started >= next_fault:
                    self.unplug_replug()
                    next_fault = started + self.fault_every
                    continue
                elif n % 2 == 0:
                    self.call_in(n)
                    self.sms_in(n)
                else:
                    self.call_out(n)
                    self.sms_out(n)
            except Exception as exc:
                self.tally.bad("gsm driver", repr(exc))
            n += 1
            self.stop_event.wait(max(0.0, self.every - (time.monotonic() - started)))
