"""What every dialect provides, and the URCs all 3GPP modems share."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardware.modem.callerid import parse_clip
from hardware.modem.events import (
    CallConnected,
    CallEnded,
    Dtmf,
    ModemEvent,
    NetworkRegistration,
    Ring,
    Unsolicited,
    UssdResponse,
)

# Boot banners: seeing one mid-life means the module reset and needs its init again. RDY
# (SIMCom, Quectel) and START come first; the others follow seconds later, also after an
# init done right at power-up, so they count only once the line has been up a while.
# (Huawei's ^BOOT is a periodic heartbeat, not a boot.)
RESET_URCS = ("RDY", "START")
LATE_BOOT_URCS = ("+CPIN: READY", "SMS DONE", "PB DONE", "+QIND: PB DONE", "Call Ready", "SMS Ready")

# Features the line itself falls back from (the fallback is code, not only words).
CALL_STATE_URC = "call-state URC"
SMS_INDICATIONS = "SMS indications"
DTMF_REPORTS = "DTMF reports"


@dataclass(frozen=True)
class Step:
    """One init command and what it is for. Without a fallback it is required: refused,
    the line stays down. With one, a refusal leaves the line up without the feature
    (degraded, shown to the owner), unless nothing the line uses is lost (degrades=False)."""

    command: str
    feature: str
    fallback: str = ""
    degrades: bool = True

    @property
    def required(self) -> bool:
        return not self.fallback


def need(command: str, feature: str) -> Step:
    return Step(command, feature)


def nice(command: str, feature: str, fallback: str) -> Step:
    return Step(command, feature, fallback)


def spare(command: str, feature: str, fallback: str) -> Step:
    """Refused, nothing the line uses is missing: said once in the log, not shown as degraded."""
    return Step(command, feature, fallback, degrades=False)


@dataclass(frozen=True)
class Dialect:
    name: str
    init: tuple[Step, ...]  # after AT and ATE0, in this order
    answer: tuple[str, ...] = ("ATA",)
    hangup: str = "AT+CHUP"
    dial: str = "ATD{number};"
    dtmf: str = "AT+VTS={digit}"
    audio_on: tuple[str, ...] = ()  # after the call is connected
    audio_off: tuple[str, ...] = ()
    pcm: bool = False  # voice as 8 kHz 16-bit PCM on an audio port (320-byte frames)
    inband_dtmf: bool = False  # the modem passes raw audio and reports no digits: detect them in it
    network: bool = True  # a mobile network to poll (signal, operator, registration)
    # V.253 voice modems: off-hook before dialling, the command whose CONNECT opens the DLE
    # audio stream in the AT port, the codes that end it, caller ID as a DATE/NMBR/NAME block,
    # and the ring silence after which an unanswered caller has given up (analog: no signal).
    dial_setup: tuple[str, ...] = ()
    stream_command: str = ""
    stream_end: bytes = b""
    cid_block: bool = False
    ring_timeout: float | None = None
    connected_urcs: tuple[str, ...] = ()
    ended_urcs: tuple[str, ...] = ("NO CARRIER", "BUSY", "NO ANSWER")
    extra_urcs: tuple[str, ...] = field(default=())

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(step.command for step in self.init)

    def is_urc(self, text: str) -> bool:
        prefixes = ("RING", "+CLIP:", "+CMTI:", "+CMT:", "+CUSD:", "+CREG:", "+DTMF:", "MISSED_CALL",
                    *self.connected_urcs, *self.ended_urcs, *self.extra_urcs, *RESET_URCS,
                    *LATE_BOOT_URCS, "^BOOT")
        return text.startswith(prefixes)

    def parse(self, line: str, text: str) -> ModemEvent:
        """One URC into an event (Unsolicited when nothing better fits)."""
        if text == "RING":
            return Ring(line)
        if text.startswith("+CLIP:"):
            return parse_clip(line, text) or Unsolicited(line, text)
        if text.startswith(self.connected_urcs):
            return CallConnected(line)
        if text.startswith(self.ended_urcs):
            return CallEnded(line, _end_reason(text))
        if m := re.match(r"^\+DTMF:\s*([0-9A-D*#])", text):
            return Dtmf(line, m.group(1))
        if m := re.match(r'^\+CUSD:\s*(\d+)(?:\s*,\s*"([^"]*)"(?:\s*,\s*(\d+))?)?', text):
            return UssdResponse(line, ussd_text(m.group(2) or "", int(m.group(3) or 15)), int(m.group(1)))
        if m := re.match(r"^\+CREG:\s*(\d+)", text):  # the URC: <stat>[,<lac>,<ci>[,<AcT>]]
            return NetworkRegistration(line, int(m.group(1)))
        if m := re.match(r"^\^DSCI:\s*\d+\s*,\s*\d+\s*,\s*6\b", text):  # SIMCom call state 6: ended
            return CallEnded(line, "remote hangup")
        if text.startswith("MISSED_CALL"):  # SIMCom: the caller gave up before the answer
            return CallEnded(line, "caller gave up")
        if text in RESET_URCS:
            return Unsolicited(line, text, {"reset": "now"})
        if text.startswith(LATE_BOOT_URCS):
            return Unsolicited(line, text, {"reset": "late"})
        return Unsolicited(line, text)


def ussd_text(text: str, dcs: int) -> str:
    """+CUSD text by its data coding scheme (3GPP 23.038): UCS2 (Russian operators' answers)
    comes as hex of UTF-16-BE; GSM 7-bit arrives as text in the modem's character set."""
    ucs2 = dcs == 0x48 or (dcs & 0xF0 in (0x40, 0x50) and dcs & 0x0C == 0x08) or dcs == 0x11
    if ucs2 and re.fullmatch(r"(?:[0-9A-Fa-f]{4})+", text):
        return bytes.fromhex(text).decode("utf-16-be", errors="replace")
    return text


def _end_reason(text: str) -> str:
    if text.startswith("BUSY"):
        return "busy"
    if text.startswith("NO ANSWER"):
        return "no answer"
    if text.startswith("NO CARRIER"):
        return "no carrier"
    if text.startswith("NO DIALTONE"):
        return "no dial tone"
    return "remote hangup"
