"""`pbx ext`, `pbx token`, `pbx calls`: they write the stores directly, so they work
whether the daemon runs or not (a running daemon sees the change at once)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pbx.cli import add_data_option
from pbx.crm.config import SETTINGS as CRM_SETTINGS
from pbx.crm.config import check as check_crm
from pbx.errors import ValidationError
from pbx.services import Services, open_services
from pbx.sip.guard import parse_networks
from pbx.store.settings import SWITCHES, Settings


def services_for(args: argparse.Namespace) -> Services:
    data = Path(args.data)
    settings = Settings(data)
    realm = settings.get("sip_realm", "pbx")
    settings.close()
    return open_services(data, realm)


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def ext_add(args: argparse.Namespace) -> int:
    ext = services_for(args).extensions.add(args.number, args.name, args.password)
    print(f"extension {ext.number} ({ext.name}) added")
    return 0


def ext_list(args: argparse.Namespace) -> int:
    exts = services_for(args).extensions.list()
    if args.json:
        print(json.dumps([e.public() for e in exts], indent=1))
    elif exts:
        print(table([[e.number, e.name, when(e.created)] for e in exts], ["NUMBER", "NAME", "CREATED"]))
    else:
        print("no extensions yet: pbx ext add NUMBER --name NAME --password SECRET")
    return 0


def ext_del(args: argparse.Namespace) -> int:
    services_for(args).extensions.delete(args.number)
    print(f"extension {args.number} deleted")
    return 0


def token_create(args: argparse.Namespace) -> int:
    token = services_for(args).tokens.create(args.name)
    print(token)
    print("(shown once: store it now; use it as 'Authorization: Bearer TOKEN')", flush=True)
    return 0


def token_list(args: argparse.Namespace) -> int:
    tokens = services_for(args).tokens.list()
    print(table([[t["name"], when(t["created"])] for t in tokens], ["NAME", "CREATED"])
          if tokens else "no tokens")
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    services_for(args).tokens.revoke(args.name)
    print(f"token {args.name} revoked")
    return 0


def calls(args: argparse.Namespace) -> int:
    records = services_for(args).journal.list(limit=args.limit)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    rows = [[r.caller, r.callee, when(r.start), when(r.answer), when(r.end),
             f"{r.duration:.0f}s", r.disposition] for r in records]
    print(table(rows, ["CALLER", "CALLEE", "START", "ANSWER", "END", "TALK", "DISPOSITION"])
          if rows else "no calls yet")
    return 0


SETTINGS = {
    "sip_realm": "digest realm (changing it needs every SIP password again)",
    "sip_digest_algorithms": "challenged digest algorithms, e.g. MD5 or SHA-256,MD5",
    "sip_ban_scanners": "on|off: ban known scanner User-Agents and sources that never log in (on)",
    "sip_allow_networks": "networks never banned as scanners, e.g. 192.168.1.0/24,10.0.0.5 (none)",
    **CRM_SETTINGS,
}


def check_setting(key: str, value: str) -> None:
    if key in CRM_SETTINGS:
        check_crm(key, value)
    if key == "sip_ban_scanners" and value.lower() not in SWITCHES:
        raise ValidationError("sip_ban_scanners is on or off")
    if key == "sip_allow_networks":
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ValidationError(f"sip_allow_networks: {exc}") from None


def config_set(args: argparse.Namespace) -> int:
    if args.key not in SETTINGS:
        raise ValidationError(f"unknown setting {args.key}; known: {', '.join(SETTINGS)}")
    check_setting(args.key, args.value)
    settings = Settings(Path(args.data))
    settings.set(args.key, args.value)
    print(f"{args.key} = {args.value} (restart the daemon to apply)")
    return 0


def config_show(args: argparse.Namespace) -> int:
    settings = Settings(Path(args.data))
    for key, help_text in SETTINGS.items():
        print(f"{key} = {settings.get(key, '(default)')}    # {help_text}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ext = sub.add_parser("ext", help="extensions (SIP accounts)").add_subparsers(dest="action", required=True)
    p = ext.add_parser("add", help="add an extension")
    p.add_argument("number")
    p.add_argument("--name", required=True)
    p.add_argument("--password", required=True, help="SIP password (10+ characters, mixed)")
    p.set_defaults(func=ext_add)
    p = ext.add_parser("list", help="list extensions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ext_list)
    p = ext.add_parser("del", help="delete an extension")
    p.add_argument("number")
    p.set_defaults(func=ext_del)

    tok = sub.add_parser("token", help="REST bridge tokens").add_subparsers(dest="action", required=True)
    p = tok.add_parser("create", help="create a token and print it once")
    p.add_argument("name")
    p.set_defaults(func=token_create)
    tok.add_parser("list", help="list tokens").set_defaults(func=token_list)
    p = tok.add_parser("revoke", help="revoke a token")
    p.add_argument("name")
    p.set_defaults(func=token_revoke)

    cfg = sub.add_parser("config", help="appliance settings").add_subparsers(dest="action", required=True)
    cfg.add_parser("show", help="show settings").set_defaults(func=config_show)
    p = cfg.add_parser("set", help="change a setting")
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(func=config_set)

    p = sub.add_parser("calls", help="call records, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=calls)
    for parser in [*ext.choices.values(), *tok.choices.values(), *cfg.choices.values(), p]:
        add_data_option(parser)
