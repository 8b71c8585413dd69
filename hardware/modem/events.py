"""Typed events a modem line posts upward (to the PBX core). Audio does not travel as
events: it has its own port object."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Validity(enum.Enum):
    OK = "ok"
    WITHHELD = "withheld"  # the caller restricted presentation
    UNAVAILABLE = "unavailable"  # the network could not provide it


@dataclass(frozen=True)
class Ring:
    line: str


@dataclass(frozen=True)
class CallerId:
    line: str
    number: str  # as the network gave it; E.164 normalisation is the PBX's job
    number_type: int = 129  # 145 international, 129 unknown/national, 161 national
    validity: Validity = Validity.OK
    name: str = ""

    @property
    def anonymous(self) -> bool:
        return self.validity is not Validity.OK or not self.number


@dataclass(frozen=True)
class CallConnected:
    line: str


@dataclass(frozen=True)
class CallEnded:
    line: str
    reason: str  # "remote hangup", "busy", "no answer", "no carrier", "port lost", ...


@dataclass(frozen=True)
class Dtmf:
    line: str
    digit: str


@dataclass(frozen=True)
class SmsReceived:
    line: str
    sender: str
    text: str
    timestamp: str = ""
    parts: int = 1


@dataclass(frozen=True)
class UssdResponse:
    line: str
    text: str
    status: int = 0


@dataclass(frozen=True)
class SignalQuality:
    line: str
    rssi: int  # 0..31, 99 unknown (AT+CSQ)
    ber: int = 99

    @property
    def dbm(self) -> int | None:
        return None if self.rssi == 99 else -113 + 2 * self.rssi


@dataclass(frozen=True)
class NetworkRegistration:
    line: str
    state: int  # AT+CREG stat: 1 home, 5 roaming, 2 searching, 3 denied, 0 not registered
    operator: str = ""

    @property
    def registered(self) -> bool:
        return self.state in (1, 5)


@dataclass(frozen=True)
class ModemUp:
    line: str
    model: str = ""
    degraded: tuple[str, ...] = ()  # features the modem refused (optional init steps)


@dataclass(frozen=True)
class ModemDown:
    line: str
    reason: str


@dataclass(frozen=True)
class Unsolicited:
    """A URC the dialect does not map to anything above (kept for the event log)."""

    line: str
    text: str
    extra: dict[str, str] = field(default_factory=dict)


ModemEvent = (Ring | CallerId | CallConnected | CallEnded | Dtmf | SmsReceived | UssdResponse
              | SignalQuality | NetworkRegistration | ModemUp | ModemDown | Unsolicited)
