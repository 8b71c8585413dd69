"""Blind transfer (REFER from a phone in a call), on the core thread.

The edge answers the phone's REFER with 202 and hands the dialog's Call-ID and the number
to the B2BUA; pjsua never sees the REFER (it would dial the number as a call of its own).
The B2BUA keeps the call (its line, its record, its recording) and swaps the leg: the
phone that transferred gets a NOTIFY with the outcome and then a BYE; the number's phones
ring as B legs of the same call; the party who stays hears the hold prompt until one
answers. If nobody answers, the phone that transferred is rung back once ("recall");
if it does not answer either, the call ends.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

log = logging.getLogger(__name__)

REASONS = {200: "OK", 404: "Not Found", 480: "Temporarily Unavailable", 481: "Call Does Not Exist",
           482: "Loop Detected", 486: "Busy Here", 491: "Request Pending"}
BYE_AFTER = 0.5  # s: the transferring phone's BYE follows its NOTIFY (a phone may hang up first)


@dataclass
class Transfer:
    """A transfer under way: who asked, to whom, and where it is in the call record."""

    by: str  # the extension that transferred
    to: str  # the number it transferred to
    entry: dict  # its step in call.path, which says how it ended
    field: str  # "callee" or "caller": the call's field that names the phone being rung
    from_user: str  # who the ringing phone sees calling: the party who stays
    display: str
    recall: bool = False  # ringing the phone that transferred, once the number did not answer


def notify(leg: Any, status: int, cseq: int) -> None:
    """RFC 3515: the REFER's outcome as a message/sipfrag NOTIFY in the leg's dialog, the
    event id its CSeq (a second REFER in the dialog is a subscription of its own); it
    ends there: a blind transfer is over once the call is handed on (200 then means
    "accepted and ringing", as Asterisk and FreePBX report it too)."""
    prm = pj.CallSendRequestParam()
    prm.method = "NOTIFY"
    for name, value in (("Event", f"refer;id={cseq}"), ("Subscription-State", "terminated;reason=noresource")):
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        prm.txOption.headers.append(header)
    prm.txOption.contentType = "message/sipfrag;version=2.0"
    prm.txOption.msgBody = f"SIP/2.0 {status} {REASONS.get(status, 'Error')}\r\n"
    try:
        leg.sendRequest(prm)
    except pj.Error as exc:
        log.warning("transfer NOTIFY %s not sent: %s", status, exc.reason)


def find_leg(legs: Any, sip_call_id: str) -> Any:
    """The live leg whose dialog has this Call-ID (the edge saw the REFER in it)."""
    for leg in legs:
        if not leg.ended and leg.sip_call_id() == sip_call_id:
            return leg
    return None
