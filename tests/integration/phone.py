"""SIPp phones with their own RTP endpoints for the phone-line tests: Bob answers what
the PBX rings him with (AnsweringPhone), Alice calls out (CallingPhone)."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from tests.integration.conftest import ALICE, BOB
from tests.support import sipp
from tests.support.daemon import Daemon, free_port
from tests.support.rtp import RtpEndpoint


class SippPhone:
    """A SIPp process with the RTP endpoint that is its media."""

    audio: RtpEndpoint
    proc: subprocess.Popen | None

    def finish(self, timeout: float = 30) -> sipp.SippResult:
        assert self.proc is not None
        return sipp.finish(self.proc, timeout=timeout)

    def __exit__(self, *exc: object) -> None:
        self.audio.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


class AnsweringPhone(SippPhone):
    """Registers, answers, and waits for the BYE, or hangs up itself after hangs_up_after_ms.
    scenario="uas_info.xml": a phone without telephone-event, taking keys by SIP INFO."""

    def __init__(self, pbx: Daemon, workdir: Path, tone_hz: float = 1300, hangs_up_after_ms: int = 0,
                 scenario: str = "uas_call.xml", user: tuple[str, str] = BOB,
                 params: dict[str, str] | None = None) -> None:
        self.pbx, self.workdir, self.scenario = pbx, workdir, scenario
        self.hangs_up_after_ms = hangs_up_after_ms
        self.params = params or {}
        self.port = free_port()
        self.csv = sipp.users_csv(workdir / f"{user[0]}.csv", [user])
        self.audio = RtpEndpoint(tone_hz)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "AnsweringPhone":
        result = sipp.run(sipp.sipp_args("call_register.xml", self.pbx.sip, csv=self.csv, local_port=self.port),
                          self.workdir)
        assert result.successful == 1, result.explain()
        self.audio.start()
        hangup = ["-d", str(self.hangs_up_after_ms)] if self.hangs_up_after_ms else []
        self.proc = sipp.start(sipp.sipp_args(self.scenario, self.pbx.sip, csv=self.csv, local_port=self.port,
                                              params={"RTPPORT": str(self.audio.port), **self.params},
                                              extra=["-trace_msg", *hangup],
                                              flags={"callee_hangs_up"} if hangup else set()),
                               self.workdir)
        time.sleep(0.3)
        return self

    def trace(self) -> str:
        return next(self.workdir.glob(f"{Path(self.scenario).stem}*_messages.log")).read_text()

    def invite(self) -> str:
        return self.trace()

    def event_pt(self) -> int:
        """The telephone-event payload type the PBX offered."""
        return int(re.search(r"a=rtpmap:(\d+) telephone-event", self.invite()).group(1))



class CallingPhone(SippPhone):
    """Alice (a SIPp phone with its own RTP endpoint) dials a number and hangs up after
    hangs_up_after_ms of talk. scenario="uac_dtmf.xml": she offers telephone-event, and
    params={"INFOKEYS": sipp.info_keys(...)} has her press keys by SIP INFO. With
    transfers_to she registers first (a transfer is taken only from a registered phone)
    and, after the talk, transfers the call blind to that number."""

    def __init__(self, pbx: Daemon, workdir: Path, dial: str, tone_hz: float = 700,
                 hangs_up_after_ms: int = 4000, scenario: str = "uac_call.xml",
                 params: dict[str, str] | None = None, transfers_to: str = "") -> None:
        self.audio = RtpEndpoint(tone_hz)
        self.pbx, self.port, self.transfers_to = pbx, free_port(), transfers_to
        self.csv = sipp.users_csv(workdir / "alice.csv", [(*ALICE, dial)])
        self.args = sipp.sipp_args(
            scenario, pbx.sip, csv=self.csv,
            local_port=self.port, params={"RTPPORT": str(self.audio.port), **(params or {}),
                                          **({"TARGET": transfers_to} if transfers_to else {})},
            flags={"caller_transfers"} if transfers_to else {"caller_hangs_up"},
            extra=["-d", str(hangs_up_after_ms)])
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "CallingPhone":
        if self.transfers_to:
            result = sipp.run(sipp.sipp_args("call_register.xml", self.pbx.sip, csv=self.csv, local_port=self.port),
                              self.workdir)
            assert result.successful == 1, result.explain()
        self.audio.start()
        self.proc = sipp.start(self.args, self.workdir)
        return self
