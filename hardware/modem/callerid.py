"""Caller ID as modems report it: the 3GPP +CLIP URC and the V.253 caller-ID block
(DATE=, TIME=, NMBR=, NAME= lines of a voice modem on an analog line)."""
from __future__ import annotations

import re

from hardware.modem.events import CallerId, Validity

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

    def complete(self) -> CallerId | None:
        number = self.fields.get("NMBR")
        if number is None:
            return None
        validity = ABSENT.get(number, Validity.OK)
        name = self.fields.get("NAME", "")
        return CallerId(self.line, "" if validity is not Validity.OK else number, 129, validity,
                        "" if name in ABSENT else name)
