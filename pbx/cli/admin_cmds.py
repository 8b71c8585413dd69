"""`pbx ext`, `pbx token`, `pbx calls`, `pbx caller`: they write the stores directly, so they work
whether the daemon runs or not (a running daemon sees the change at once)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import phonenumbers
from limits import parse_many

from pbx.cli import add_data_option
from pbx.contacts.callers import BLOCKED_ACTIONS, CallerPolicy
from pbx.crm.config import SETTINGS as CRM_SETTINGS
from pbx.crm.config import check as check_crm
from pbx.errors import ValidationError
from pbx.recording.settings import FIELDS as RECORDING_FIELDS
from pbx.services import Services, open_services
from pbx.sip.guard import parse_networks
from pbx.store import cursor
from pbx.store.settings import SWITCHES, Settings
from pbx.store.tokens import SCOPES


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


# Without --scope a token may only read: what a CRM pulling call records needs, and the
# least a leaked token can do. Changing things (write) or the appliance's own security
# (admin: tokens, bans, webhooks, the outbox) is asked for by name.
DEFAULT_SCOPE = "read"


def token_create(args: argparse.Namespace) -> int:
    scope = args.scope or DEFAULT_SCOPE
    token = services_for(args).tokens.create(args.name, scope)
    print(token)
    default = " (the default; --scope write or admin for more)" if args.scope is None else ""
    print(f"(scope {scope}{default}; shown once: store it now; use it as 'Authorization: Bearer TOKEN')",
          flush=True)
    return 0


def token_list(args: argparse.Namespace) -> int:
    tokens = services_for(args).tokens.list()
    print(table([[t["name"], t["scope"], when(t["created"])] for t in tokens], ["NAME", "SCOPE", "CREATED"])
          if tokens else "no tokens")
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    services_for(args).tokens.revoke(args.name)
    print(f"token {args.name} revoked")
    return 0


def calls(args: argparse.Namespace) -> int:
    if args.since is not None:
        return calls_since(args)
    records = services_for(args).journal.list(limit=args.limit)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    rows = [[r.caller, r.callee, when(r.start), when(r.answer), when(r.end),
             f"{r.duration:.0f}s", r.disposition] for r in records]
    print(table(rows, ["CALLER", "CALLEE", "START", "ANSWER", "END", "TALK", "DISPOSITION"])
          if rows else "no calls yet")
    return 0


def caller(args: argparse.Namespace) -> int:
    """A caller's contact and last calls: what the person who answers should know."""
    svc = services_for(args)
    settings = Settings(Path(args.data))
    svc.caller_policy = lambda: CallerPolicy.from_settings(settings.get)
    hist = svc.caller_history(args.number, limit=args.limit)
    if args.json:
        print(json.dumps(hist, indent=1, ensure_ascii=False))
        return 0
    contact = hist["contact"]
    who = f"{contact['name']}" + (f" ({contact['company']})" if contact["company"] else "") if contact else "no contact"
    tier = f", {contact['tier']}" if contact and contact["tier"] != "normal" else ""
    manager = f", responsible {contact['responsible']}" if contact and contact["responsible"] else ""
    print(f"{hist['number']}: {who}{tier}{manager}")
    repeat = hist["repeat"]
    print(f"{hist['total_calls']} calls, {hist['missed']} missed; {repeat['calls']} in the last "
          f"{repeat['hours']:g} h" + (" (repeat caller)" if repeat["is_repeat"] else ""))
    if hist["open_callback"]:
        print(f"waiting for a callback since {when(hist['open_callback']['since'])}")
    rows = [[when(c["at"]), c["direction"], c["disposition"], c["answered_by"] or "-",
             f"{c['talk_seconds']:.0f}s"] for c in hist["calls"]]
    if rows:
        print(table(rows, ["WHEN", "DIRECTION", "DISPOSITION", "ANSWERED BY", "TALK"]))
    return 0


def calls_since(args: argparse.Namespace) -> int:
    """The pull contract (as GET /api/v1/calls?since=c_N): records written after the
    cursor, in write order; the cursor to go on from is printed last (stderr in --json)."""
    if not cursor.is_cursor(args.since):
        raise ValidationError("--since: a cursor c_<n> (c_0: from the start)")
    if args.limit < 1:
        raise ValidationError("--limit must be 1 or more")
    page = cursor.pull(services_for(args).journal, args.since, args.limit)
    if args.json:
        print(json.dumps(page, indent=1))
        return 0
    rows = [[r["caller"], r["callee"], when(r["start"]), when(r["end"]), f"{r['duration']:.0f}s",
             r["disposition"]] for r in page["calls"]]
    if rows:
        print(table(rows, ["CALLER", "CALLEE", "START", "END", "TALK", "DISPOSITION"]))
    more = "more: run again with it" if page["more"] else "nothing more yet"
    print(f"next: {page['next']} ({more})")
    return 0


def check_rate_limit(value: str) -> None:
    """As flask-limiter will read it (its `limits` parser), so the daemon starts with it."""
    try:
        if not parse_many(value):
            raise ValueError("empty")
    except ValueError as exc:
        raise ValidationError(f"api_rate_limit: {value!r} is no rate limit such as '600 per minute' ({exc})") from None


SETTINGS = {
    "sip_realm": "digest realm (changing it needs every SIP password again)",
    "sip_digest_algorithms": "challenged digest algorithms, e.g. MD5 or SHA-256,MD5",
    "sip_ban_scanners": "on|off: ban known scanner User-Agents and sources that never log in (on)",
    "sip_allow_networks": "networks never banned as scanners, e.g. 192.168.1.0/24,10.0.0.5 (none)",
    "vip_mark": "put before a VIP contact's name on the ringing phone ('★ '; applies within 5 s)",
    "blocked_callers": "reject|announce: a blocked contact's call is hung up unanswered, or told so first (reject)",
    "repeat_calls": "a caller with this many calls in repeat_hours is a repeat caller (3)",
    "repeat_hours": "the repeat callers' window in hours (24)",
    "country": "the office's country (ISO code) for numbers written without +, e.g. in contacts (RU)",
    "area_code": "the office's area code for local numbers written without it, e.g. 495 (none)",
    "api_rate_limit": "REST requests per token, e.g. '600 per minute' or '20/second;5000/hour' (600 per minute)",
    **{key: (f"{'|'.join(f.choices)}: " if f.choices else "") + f"{f.help} ({f.default})"
       for key, f in RECORDING_FIELDS.items()},
    **CRM_SETTINGS,
}
LIVE = ("vip_mark", "blocked_callers", "repeat_calls", "repeat_hours",  # the daemon re-reads these
        *RECORDING_FIELDS)


def check_setting(key: str, value: str) -> None:
    if key in CRM_SETTINGS:
        check_crm(key, value)
    if key in RECORDING_FIELDS:
        RECORDING_FIELDS[key].check(key, value)
    if key == "sip_ban_scanners" and value.lower() not in SWITCHES:
        raise ValidationError("sip_ban_scanners is on or off")
    if key == "country" and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"country: {value!r} is no ISO 3166 region code (RU, DE, US, ...)")
    if key == "area_code" and value and not value.isdigit():
        raise ValidationError("area_code: digits only, e.g. 495")
    if key == "sip_allow_networks":
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ValidationError(f"sip_allow_networks: {exc}") from None
    if key == "blocked_callers" and value not in BLOCKED_ACTIONS:
        raise ValidationError(f"blocked_callers is one of {', '.join(BLOCKED_ACTIONS)}")
    if key == "repeat_calls" and not (value.isdigit() and 2 <= int(value) <= 100):
        raise ValidationError("repeat_calls is a whole number from 2 to 100")
    if key == "repeat_hours":
        try:
            ok = 0.1 <= float(value) <= 720
        except ValueError:
            ok = False
        if not ok:
            raise ValidationError("repeat_hours is a number of hours from 0.1 to 720")
    if key == "vip_mark" and len(value) > 16:
        raise ValidationError("vip_mark is at most 16 characters")
    if key == "api_rate_limit":
        check_rate_limit(value)


def config_set(args: argparse.Namespace) -> int:
    if args.key not in SETTINGS:
        raise ValidationError(f"unknown setting {args.key}; known: {', '.join(SETTINGS)}")
    check_setting(args.key, args.value)
    value = RECORDING_FIELDS[args.key].check(args.key, args.value) if args.key in RECORDING_FIELDS else args.value
    settings = Settings(Path(args.data))
    settings.set(args.key, value)
    print(f"{args.key} = {args.value}" + (" (a running daemon applies it within 5 s)" if args.key in LIVE
                                          else " (restart the daemon to apply)"))
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
    p.add_argument("--scope", choices=SCOPES, default=None,
                   help="read (the default: GET only), write (also changes), admin (also tokens, bans, "
                        "webhooks, outbox)")
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

    p = sub.add_parser("calls", help="call records, newest first (--since CURSOR: in write order)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--since", metavar="CURSOR", help=f"records written after a cursor ({cursor.START}: from the"
                                                     " start), then the next cursor")
    p.set_defaults(func=calls)
    who = sub.add_parser("caller", help="a caller's contact and last calls (any number format)")
    who.add_argument("number")
    who.add_argument("--json", action="store_true")
    who.add_argument("--limit", type=int, default=10)
    who.set_defaults(func=caller)
    for parser in [*ext.choices.values(), *tok.choices.values(), *cfg.choices.values(), p, who]:
        add_data_option(parser)
