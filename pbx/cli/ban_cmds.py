"""`pbx bans list|clear [ADDRESS]`: sources the running daemon's SIP edge has banned."""
from __future__ import annotations

import argparse
import json
from urllib.parse import quote

from pbx.cli import add_data_option
from pbx.cli.admin_cmds import table, when
from pbx.cli.daemon_client import call_api


def bans_list(args: argparse.Namespace) -> int:
    bans = call_api(args, "GET", "/bans")
    if args.json:
        print(json.dumps(bans, indent=1))
    elif bans:
        rows = [[b["address"], when(b["since"]), f"{b['expires_in']} s", b["reason"]] for b in bans]  # type: ignore[index]
        print(table(rows, ["ADDRESS", "SINCE", "EXPIRES IN", "REASON"]))
    else:
        print("no source is banned")
    return 0


def bans_clear(args: argparse.Namespace) -> int:
    path = f"/bans/{quote(args.address, safe='')}" if args.address else "/bans"
    lifted = call_api(args, "DELETE", path)["lifted"]
    print(f"{lifted} ban(s) lifted")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    bans = sub.add_parser("bans", help="sources banned by the SIP edge").add_subparsers(
        dest="action", required=True)
    p = bans.add_parser("list", help="list banned sources and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bans_list)
    p = bans.add_parser("clear", help="lift one ban, or all of them")
    p.add_argument("address", nargs="?", help="the banned address (all bans without it)")
    p.set_defaults(func=bans_clear)
    for p in bans.choices.values():
        add_data_option(p)
