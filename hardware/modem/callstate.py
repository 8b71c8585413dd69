"""The call list (AT+CLCC) as the source of a call's state where the modem says nothing:
an outbound call picked up (SIM800 and EC25 send no URC), and the far end hanging up on
a firmware that refused its call-state URC (SIM7600 without ^DSCI).

+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,"<number>",<type>]; stat 0 active, 1 held,
2 dialing, 3 alerting, 4 incoming, 5 waiting, 6 disconnect (3GPP TS 27.007, +CLCC)."""
from __future__ import annotations

from hardware.modem.atchannel import Response

ACTIVE, HELD, DIALING, ALERTING, INCOMING = 0, 1, 2, 3, 4
CALL_POLL = 1.0  # s between two looks at the call list while a call rings, is dialled or runs
# the line's state -> the call-list states in which its call still exists (a waiting
# second caller, stat 5, is not the line's call)
ALIVE = {"ringing": (INCOMING,), "dialing": (DIALING, ALERTING, ACTIVE, HELD), "active": (ACTIVE, HELD)}


def call_states(response: Response) -> list[int]:
    states = []
    for line in response.lines:
        fields = line[len("+CLCC:"):].split(",") if line.startswith("+CLCC:") else []
        if len(fields) > 2 and fields[2].strip().isdigit():
            states.append(int(fields[2]))
    return states


def call_gone(line_state: str, response: Response) -> bool:
    """The modem answered the poll and its list no longer holds the line's call."""
    return response.ok and not any(s in ALIVE.get(line_state, ()) for s in call_states(response))
