"""`pbx ivr|ringgroup|timecondition|announcement|prompt|permission|route inbound|outbound`:
the dial plan from the console. Like `pbx ext`, they write the store directly (a running
daemon notices the file changed), so they work with or without the daemon.

Every kind has list, show ID, set ID and delete ID. `set` edits: it starts from the
object as stored (or a new one), lays --json over it (a null removes a field), then the
field options, and saves the whole; the store's refusal names the field, exit 2.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from pbx import planedit
from pbx.cli import add_data_option
from pbx.cli.admin_cmds import services_for, table
from pbx.errors import PbxError, ValidationError

NAME = (("--name", "name", str),)
NUMBER = (("--number", "number", str),)
# kind -> its field options: (flag, field, how): a type, "list" (comma separated),
# "keys" (repeatable KEY=DEST), "schedule" (repeatable "DAYS HH:MM-HH:MM") or "bool".
OPTIONS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "ivr": NAME + NUMBER + (("--prompt", "prompt", str), ("--key", "keys", "keys"),
                            ("--timeout-destination", "timeout_destination", str),
                            ("--invalid-destination", "invalid_destination", str),
                            ("--first-digit-timeout", "first_digit_timeout", float),
                            ("--inter-digit-timeout", "inter_digit_timeout", float),
                            ("--retries", "retries", int), ("--direct-dial", "direct_dial", "bool")),
    "ringgroup": NAME + NUMBER + (("--strategy", "strategy", str), ("--members", "members", "list"),
                                  ("--ring-time", "ring_time", int), ("--total-time", "total_time", int),
                                  ("--prefix", "name_prefix", str), ("--no-answer", "no_answer", str)),
    "timecondition": NAME + NUMBER + (("--schedule", "schedule", "schedule"), ("--holidays", "holidays", "list"),
                                      ("--matched", "matched", str), ("--unmatched", "unmatched", str),
                                      ("--timezone", "timezone", str), ("--feature-code", "feature_code", str)),
    "announcement": NAME + NUMBER + (("--prompt", "prompt", str), ("--then", "then", str)),
    "prompt": NAME + (("--lang", "language", str), ("--text", "text", str)),
    "inbound": NAME + (("--trunk", "trunk", str), ("--caller", "caller", str), ("--value", "value", str),
                       ("--destination", "destination", str), ("--position", "position", int)),
    "outbound": NAME + (("--patterns", "patterns", "list"), ("--prepend", "prepend", str),
                        ("--trunks", "trunks", "list"), ("--position", "position", int)),
    "permission": (("--allow", "allow", "list"),),
}
DESTINATIONS = {"timeout_destination", "invalid_destination", "no_answer", "matched", "unmatched", "then",
                "destination"}
# What `list` shows of each kind besides id and name.
SUMMARY: dict[str, Callable[[dict], str]] = {
    "ivr": lambda o: " ".join(f"{k}>{d}" for k, d in sorted(o.get("keys", {}).items())),
    "ringgroup": lambda o: f"{o.get('strategy')}: {', '.join(o.get('members', []))} -> {o.get('no_answer')}",
    "timecondition": lambda o: "; ".join(f"{r['days']} {r['from']}-{r['to']}" for r in o.get("schedule", []))
    + f" ? {o.get('matched')} : {o.get('unmatched')}" + (f" (forced {o['override']})" if o.get("override") else ""),
    "announcement": lambda o: f"{o.get('prompt')} then {o.get('then')}",
    "prompt": lambda o: f"[{o.get('language')}] {o.get('text', '(recording)')}",
    "inbound": lambda o: f"#{o.get('position')} {o.get('trunk') or 'every line'}, caller {o.get('caller')} "
    f"{o.get('value') or ''} -> {o.get('destination')}",
    "outbound": lambda o: f"#{o.get('position')} {', '.join(o.get('patterns', []))} via "
    f"{', '.join(o.get('trunks', [])) or 'every line'}",
    "permission": lambda o: ", ".join(o.get("allow", [])) or "emergency only",
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _schedule_row(text: str) -> dict:
    days, _, hours = text.strip().rpartition(" ")
    start, _, end = hours.partition("-")
    if not days or not end:
        raise ValidationError(f"schedule {text!r}: write it as 'mon-fri 09:00-18:00'", details={"field": "schedule"})
    return {"days": days.strip(), "from": start, "to": end}


def edited(kind: str, obj: dict, args: argparse.Namespace) -> dict:
    """The object with --json and the field options of the command line laid over it."""
    if args.json:
        try:
            changes = json.loads(args.json)
        except ValueError as exc:
            raise ValidationError(f"--json is not JSON: {exc}", details={"field": "json"}) from None
        if not isinstance(changes, dict):
            raise ValidationError("--json must be an object", details={"field": "json"})
        for field, value in changes.items():
            if value is None:
                obj.pop(field, None)
            else:
                obj[field] = value
    for _flag, field, how in OPTIONS[kind]:
        value = getattr(args, field)
        if value is None:
            continue
        if how == "list":
            obj[field] = _split(value)
        elif how == "keys":
            keys = dict(obj.get("keys", {}))
            for item in value:
                key, _, dest = item.partition("=")
                keys.pop(key, None) if not dest else keys.update({key: dest})
            obj[field] = keys
        elif how == "schedule":
            obj[field] = [_schedule_row(row) for row in value]
        else:
            obj[field] = value
    if kind == "inbound" and obj.get("caller") == "list" and isinstance(obj.get("value"), str):
        obj["value"] = _split(obj["value"])
    return obj


def named_errors(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """pbx's main prints the message: make it name the field (and who refers)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except PbxError as exc:
            exc.message = planedit.named(exc)
            raise
    return run


def do_list(args: argparse.Namespace) -> int:
    objs = planedit.plan(services_for(args)).list(args.kind)
    if args.as_json:
        print(json.dumps(objs, indent=1, ensure_ascii=False))
    elif objs:
        print(table([[o["id"], o.get("name", ""), o.get("number", ""), SUMMARY[args.kind](o)] for o in objs],
                    ["ID", "NAME", "NUMBER", "WHAT"]))
    else:
        print(f"no {args.kind} yet: pbx {args.command} set ID ...")
    return 0


def do_show(args: argparse.Namespace) -> int:
    print(json.dumps(planedit.existing(services_for(args), args.kind, args.id), indent=1, ensure_ascii=False))
    return 0


def do_set(args: argparse.Namespace) -> int:
    svc = services_for(args)
    current = planedit.plan(svc).get(args.kind, args.id)
    obj = edited(args.kind, dict(current or {"id": args.id}), args)
    if current is None:
        planedit.create(svc, args.kind, obj)
    else:
        planedit.replace(svc, args.kind, args.id, obj)
    print(f"{args.kind} {args.id} {'created' if current is None else 'saved'}")
    return 0


def do_delete(args: argparse.Namespace) -> int:
    planedit.delete(services_for(args), args.kind, args.id)
    print(f"{args.kind} {args.id} deleted")
    return 0


def prompt_tts(args: argparse.Namespace) -> int:
    args.json = None
    if args.name is None and planedit.plan(services_for(args)).get("prompt", args.id) is None:
        args.name = args.id
    do_set(args)
    print(f"speech made: {planedit.library(services_for(args)).duration(args.id):.1f} s")
    return 0


def prompt_upload(args: argparse.Namespace) -> int:
    svc = services_for(args)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", details={"field": "file"}) from None
    new = None if planedit.plan(svc).get("prompt", args.id) else {
        "id": args.id, "name": args.name or args.id, "language": args.language or "en"}
    planedit.upload(svc, args.id, data, path.name, new)
    print(f"prompt {args.id}: {path.name} uploaded ({planedit.library(svc).duration(args.id):.1f} s)")
    return 0


def override(args: argparse.Namespace) -> int:
    value = "" if args.value == "none" else args.value
    planedit.override(services_for(args), args.id, value)
    print(f"timecondition {args.id}: " + (f"forced {value}" if value else "follows its schedule"))
    return 0


def _kind_commands(parser: argparse.ArgumentParser, command: str, kind: str) -> argparse._SubParsersAction:
    actions = parser.add_subparsers(dest="action", required=True)
    defaults = {"kind": kind, "command": command}
    p = actions.add_parser("list", help=f"every {kind}")
    p.add_argument("--json", dest="as_json", action="store_true")
    p.set_defaults(func=named_errors(do_list), **defaults)
    p = actions.add_parser("show", help=f"one {kind} as JSON")
    p.add_argument("id")
    p.set_defaults(func=named_errors(do_show), **defaults)
    p = actions.add_parser("set", help=f"create or change a {kind} (fields not given stay)")
    p.add_argument("id")
    p.add_argument("--json", help='fields as a JSON object, e.g. \'{"name": "Sales"}\' (null removes one)')
    for flag, field, how in OPTIONS[kind]:
        if how == "bool":
            p.add_argument(flag, dest=field, action=argparse.BooleanOptionalAction)
        elif how == "keys":
            p.add_argument(flag, dest=field, action="append", metavar="KEY=DEST", help="repeatable; KEY= removes")
        elif how == "schedule":
            p.add_argument(flag, dest=field, action="append", metavar="'DAYS HH:MM-HH:MM'",
                           help="e.g. 'mon-fri 09:00-18:00', repeatable")
        elif how == "list":
            p.add_argument(flag, dest=field, metavar="A,B,...", help="comma separated")
        else:
            p.add_argument(flag, dest=field, type=how, metavar="DEST" if field in DESTINATIONS else None)
    p.set_defaults(func=named_errors(do_set), **defaults)
    p = actions.add_parser("delete", help=f"delete a {kind} (refused while something refers to it)")
    p.add_argument("id")
    p.set_defaults(func=named_errors(do_delete), **defaults)
    return actions


def register(sub: argparse._SubParsersAction) -> None:
    parsers: list[argparse.ArgumentParser] = []
    helps = {"ivr": "IVR menus", "ringgroup": "ring groups", "timecondition": "time conditions (office hours)",
             "announcement": "announcements", "prompt": "prompts (recordings and text to speech)",
             "permission": "which numbers an extension may call"}
    for kind, text in helps.items():
        actions = _kind_commands(sub.add_parser(kind, help=text), kind, kind)
        if kind == "prompt":
            p = actions.add_parser("tts", help="a prompt spoken from text (espeak-ng)")
            p.add_argument("id")
            p.add_argument("--text", required=True)
            p.add_argument("--lang", dest="language", choices=("en", "ru"), default="en")
            p.add_argument("--name")
            p.set_defaults(func=named_errors(prompt_tts), kind="prompt", command="prompt")
            p = actions.add_parser("upload", help="a prompt's audio from a file (any format sox reads)")
            p.add_argument("id")
            p.add_argument("file")
            p.add_argument("--name")
            p.add_argument("--lang", dest="language", choices=("en", "ru"))
            p.set_defaults(func=named_errors(prompt_upload))
        if kind == "timecondition":
            p = actions.add_parser("override", help="force the outcome, or none to follow the schedule")
            p.add_argument("id")
            p.add_argument("value", choices=("matched", "unmatched", "none"))
            p.set_defaults(func=named_errors(override))
        parsers += actions.choices.values()
    routes = sub.add_parser("route", help="inbound and outbound routes").add_subparsers(dest="direction", required=True)
    for kind in ("inbound", "outbound"):
        actions = _kind_commands(routes.add_parser(kind, help=f"{kind} routes"), f"route {kind}", kind)
        parsers += actions.choices.values()
    for parser in parsers:
        add_data_option(parser)
