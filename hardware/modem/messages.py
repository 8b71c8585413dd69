"""Text messages and USSD on a GSM line, in PDU mode (UCS2 for Cyrillic, long messages
split and joined). Every message read from the SIM is deleted, readable or not, so the
SIM never fills up and stops taking messages."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from hardware.modem.atchannel import AtError, AtTimeout
from hardware.modem.events import ModemEvent, SmsReceived
from hardware.modem.pdu import Joiner, decode_deliver, encode_submit

log = logging.getLogger(__name__)


class LineMessages:
    def __init__(self, line: str, command: Callable[..., Any], emit: Callable[[ModemEvent], None]) -> None:
        self.line = line
        self._command, self._emit = command, emit
        self._joiner = Joiner()
        self._ref = 0
        self._lock = threading.Lock()  # a +CMTI read and the start-up sweep: one at a time

    def send(self, number: str, text: str) -> int:
        """Returns the number of parts sent."""
        self._ref = (self._ref + 1) & 0xFF
        parts = encode_submit(number, text, ref=self._ref)
        for length, pdu in parts:
            self._command(f"AT+CMGS={length}", timeout=30, payload=pdu.encode())
        return len(parts)

    def read(self, index: int) -> None:
        """A +CMTI told of a new message at index."""
        with self._lock:
            try:
                response = self._command(f"AT+CMGR={index}")
            except AtError as exc:
                log.warning("line %s: SMS %s unreadable: %s", self.line, index, exc)
                return
            pdu = next((line for line in response.lines if not line.startswith("+CMGR:")), "")
            self._take(index, pdu)

    def read_stored(self) -> None:
        """Messages that came while the line was down (their +CMTI went nowhere)."""
        with self._lock:
            try:
                lines = self._command("AT+CMGL=4", timeout=10).lines
            except AtTimeout:
                raise  # a modem that does not answer is down
            except AtError as exc:
                log.warning("line %s: stored SMS not listed: %s", self.line, exc)
                return
            for header, pdu in zip(lines, lines[1:], strict=False):
                if header.startswith("+CMGL:") and not pdu.startswith("+CMGL:"):
                    self._take(int(header[6:].split(",")[0]), pdu)

    def _take(self, index: int, pdu: str) -> None:
        message = None
        try:
            message = self._joiner.add(decode_deliver(pdu))
        except (ValueError, IndexError) as exc:
            log.warning("line %s: SMS %s undecodable (%s): %s", self.line, index, exc, pdu)
        try:
            self._command(f"AT+CMGD={index}")
        except AtError as exc:
            log.warning("line %s: SMS %s not deleted: %s", self.line, index, exc)
        if message is not None:
            self._emit(SmsReceived(self.line, message.sender, message.text, message.timestamp, message.total))

    def ussd(self, code: str) -> list[str]:
        """Ask the network (balance: *100#). The answer comes as a +CUSD URC; some modems
        put it before the OK, inside the response: those lines are returned."""
        response = self._command(f'AT+CUSD=1,"{code}",15', timeout=10)
        return [text for text in response.lines if text.startswith("+CUSD:")]

    def ussd_cancel(self) -> None:
        self._command("AT+CUSD=2")
