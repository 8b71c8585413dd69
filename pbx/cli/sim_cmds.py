"""`pbx sim ...`: drive the running daemon's simulated phone lines (development mode)."""
from __future__ import annotations

import argparse
import json
import time

from pbx.cli import add_data_option
from pbx.cli.daemon_client import call_api
from pbx.errors import PbxError


def _call_api(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    return call_api(args, method, "/sim" + path, body)


def sim_call(args: argparse.Namespace) -> int:
    body = {"from": args.caller, "withheld": args.withheld, "tone_hz": args.tone}
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/call", body)))
    if args.dtmf:
        deadline = time.monotonic() + 60
        while _call_api(args, "GET", f"/{args.trunk}")["state"] != "active":
            if time.monotonic() > deadline:
                raise PbxError("the call was not answered within 60 s: no DTMF sent")
            time.sleep(0.2)
        time.sleep(0.5)
        print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/dtmf", {"digits": args.dtmf})))
    if args.hangup_after:
        time.sleep(args.hangup_after)
        print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/hangup", {})))
    return 0


def sim_hangup(args: argparse.Namespace) -> int:
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/hangup", {})))
    return 0


def sim_state(args: argparse.Namespace) -> int:
    print(json.dumps(_call_api(args, "GET", f"/{args.trunk}")))
    return 0


def sim_sms(args: argparse.Namespace) -> int:
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/sms", {"from": args.sender, "text": args.text})))
    return 0


def sim_dtmf(args: argparse.Namespace) -> int:
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/dtmf", {"digits": args.digits})))
    return 0


def sim_fault(args: argparse.Namespace) -> int:
    body = {"kind": args.kind, "seconds": args.seconds, "command": args.command}
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/fault", body)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("sim", help="drive the simulated phone lines of a running daemon")
    actions = sim.add_subparsers(dest="action", required=True)
    p = actions.add_parser("call", help="an inbound call on a simulated line")
    p.add_argument("--from", dest="caller", default="", help="caller number, e.g. +79161234567")
    p.add_argument("--withheld", action="store_true", help="caller ID withheld")
    p.add_argument("--tone", type=float, default=0.0, help="the caller 'speaks' a tone of this Hz")
    p.add_argument("--hangup-after", type=float, default=0.0, help="the caller hangs up after N s")
    p.add_argument("--dtmf", default="", help="the caller presses these keys once the call is answered")
    p.set_defaults(func=sim_call)
    p2 = actions.add_parser("hangup", help="the far end hangs up")
    p2.set_defaults(func=sim_hangup)
    p3 = actions.add_parser("state", help="the simulated line's state")
    p3.set_defaults(func=sim_state)
    p4 = actions.add_parser("sms", help="the network delivers a text message to the line")
    p4.add_argument("--from", dest="sender", required=True)
    p4.add_argument("--text", required=True)
    p4.set_defaults(func=sim_sms)
    p5 = actions.add_parser("dtmf", help="the far end presses keys")
    p5.add_argument("digits")
    p5.set_defaults(func=sim_dtmf)
    p6 = actions.add_parser("fault", help="break the simulated modem")
    p6.add_argument("kind", choices=("unplug", "replug", "freeze", "thaw", "reset", "garbage", "slow",
                                     "refuse", "accept"))
    p6.add_argument("--seconds", type=float, default=0.0, help="for slow: delay of every answer")
    p6.add_argument("--command", default="", help="for refuse/accept: the AT command, e.g. 'AT^DSCI=1' (the line "
                    "meets it at its next init: then `reset`); accept without one takes every command again")
    p6.set_defaults(func=sim_fault)
    for parser in (p, p2, p3, p4, p5, p6):
        parser.add_argument("--trunk", default="gsm1")
        add_data_option(parser)
