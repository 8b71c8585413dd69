"""Caller ID as modems report it: the 3GPP +CLIP URC and the V.253 caller-ID block
(DATE=, TIME=, NMBR=, NAME= lines of a voice modem on an analog line)."""
from __future__ import annotations

import re

from hardware.modem.events import CallerId, ModemEvent, Ring, Validity

# +CLIP: <number>,<type>[,<subaddr>,<satype>[,<alpha>[,<CLI validity>]]]
CLIP = re.compile(r'^\+CLIP:\s*"([^"]*)"\s*,\s*(\d+)(.*)$')
ABSENT = {"P": Validity.WITHHELD, "O": Validity.UNAVAILABLE}


def parse_clip(line: str, urc: str) -> CallerId | None:
    m = CLIP.match(urc.strip())
    if not m:
        return None
    number, number_type, rest = m.group(1), int(m.group(2)), m.group(3)
    fields = [f.strip() for f in re.findall(r',\s*("[^"]*"|[^,]*)', rest)]
    name = fields[2].strip('"') if len(fields) > 2 else ""
    validity = Validity.OK
    if len(fields) > 3 and fields[3].isdigit():
        validity = {0: Validity.OK, 1: Validity.WITHHELD, 2: Validity.UNAVAILABLE}.get(
            int(fields[3]), Validity.UNAVAILABLE)
    if not number and validity is Validity.OK:
        validity = Validity.UNAVAILABLE
    return CallerId(line, number if validity is Validity.OK else "", number_type, validity, name)


class V253CallerIdBlock:
    """Collects DATE/TIME/NMBR/NAME lines; complete() gives the CallerId once NMBR came."""

    KEYS = ("DATE", "TIME", "NMBR", "NAME", "MESG")

    def __init__(self, line: str) -> None:
        self.line = line
        self.fields: dict[str, str] = {}

    def feed(self, text: str) -> bool:
        """True if the line belonged to the block."""
        key, sep, value = text.strip().partition("=")
        if not sep or key.strip().upper() not in self.KEYS:
            return False
        self.fields[key.strip().upper()] = value.strip()
        return True

    @property
    def has_number(self) -> bool:
        return "NMBR" in self.fields

    def complete(self) -> CallerId | None:
        number = self.fields.get("NMBR")
        if number is None:
            return None
        validity = ABSENT.get(number, Validity.OK)
        name = self.fields.get("NAME", "")
        return CallerId(self.line, "" if validity is not Validity.OK else number, 129, validity,
                        "" if name in ABSENT else name)


class V253Rings:
    """One line's RINGs and caller-ID blocks -> Ring events and exactly one CallerId per
    call: as soon as the block is complete (its NAME line, or the next RING or other line
    after NMBR), or, when the 2nd RING comes without a block, an anonymous one (the block
    is absent when the line has no caller ID or its checksum failed)."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.reset()

    def reset(self) -> None:
        """A new call: the next RING is its first."""
        self.block = V253CallerIdBlock(self.line)
        self.rings = 0
        self.reported = False

    def feed(self, text: str) -> tuple[list[ModemEvent], bool]:
        """(events to post, whether the text was a RING or block line and is used up)."""
        if text.strip() == "RING":
            events: list[ModemEvent] = [self._report()] if self.rings and not self.reported else []
            self.rings += 1
            return [*events, Ring(self.line)], True
        if self.block.feed(text):
            if self.block.has_number and text.strip().upper().startswith("NAME") and not self.reported:
                return [self._report()], True
            return [], True
        if self.block.has_number and not self.reported:
            return [self._report()], False
        return [], False

    def _report(self) -> CallerId:
        self.reported = True
        return self.block.complete() or CallerId(self.line, "", 129, Validity.UNAVAILABLE)
