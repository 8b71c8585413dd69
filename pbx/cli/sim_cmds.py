"""`pbx sim ...`: drive the running daemon's simulated phone lines (development mode)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import requests

from pbx.cli import add_data_option
from pbx.errors import PbxError


def _daemon(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    path = Path(args.data) / "daemon.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        raise PbxError(f"no running daemon found for {args.data} (start it with: pbx run)") from None
    return info["url"] + "/api/v1/sim", {"Authorization": f"Bearer {info['token']}"}


def _call_api(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    base, headers = _daemon(args)
    try:
        resp = requests.request(method, base + path, json=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise PbxError(f"the daemon does not answer: {exc}") from None
    data = resp.json() if resp.content else {}
    if resp.status_code >= 400:
        raise PbxError(data.get("message", f"HTTP {resp.status_code}"))
    return data


def sim_call(args: argparse.Namespace) -> int:
    body = {"from": args.caller, "withheld": args.withheld, "tone_hz": args.tone}
    print(json.dumps(_call_api(args, "POST", f"/{args.trunk}/call", body)))
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


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("sim", help="drive the simulated phone lines of a running daemon")
    actions = sim.add_subparsers(dest="action", required=True)
    p = actions.add_parser("call", help="an inbound call on a simulated line")
    p.add_argument("--from", dest="caller", default="", help="caller number, e.g. +79161234567")
    p.add_argument("--withheld", action="store_true", help="caller ID withheld")
    p.add_argument("--tone", type=float, default=0.0, help="the caller 'speaks' a tone of this Hz")
    p.add_argument("--hangup-after", type=float, default=0.0, help="the caller hangs up after N s")
    p.set_defaults(func=sim_call)
    p2 = actions.add_parser("hangup", help="the far end hangs up")
    p2.set_defaults(func=sim_hangup)
    p3 = actions.add_parser("state", help="the simulated line's state")
    p3.set_defaults(func=sim_state)
    for parser in (p, p2, p3):
        parser.add_argument("--trunk", default="gsm1")
        add_data_option(parser)
