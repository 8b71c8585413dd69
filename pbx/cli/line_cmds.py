"""`pbx trunk ...` and `pbx sms ...`: phone lines and their text messages.

Trunks are written to the store directly (a running daemon starts or stops the line
within 2 s); the live state and sending a message need the running daemon."""
from __future__ import annotations

import argparse
import json

from pbx.cli import add_data_option
from pbx.cli.admin_cmds import services_for, table, when
from pbx.cli.daemon_client import DaemonNotRunning, call_api
from pbx.store.trunks import DIALECTS_BY_TYPE, new_trunk


def trunk_add(args: argparse.Namespace) -> int:
    trunk = new_trunk(args.name, args.type, args.dialect or "", args.port, args.audio_port or "",
                      args.country, args.area_code or "")
    services_for(args).trunks.add(trunk)
    print(f"trunk {trunk.name} added: {trunk.type} line, {trunk.dialect} on {trunk.port}"
          " (a running daemon starts it within 2 s)")
    return 0


def trunk_list(args: argparse.Namespace) -> int:
    trunks: list[dict]
    try:
        trunks = call_api(args, "GET", "/trunks")  # type: ignore[assignment]
    except DaemonNotRunning:
        trunks = services_for(args).trunk_views()  # no daemon: every line stopped
    if args.json:
        print(json.dumps(trunks, indent=1))
    elif trunks:
        rows = [[t["name"], t["type"], t["dialect"], t["port"], t["state"] + (" (in call)" if t.get("in_call") else ""),
                 f"{t['signal_dbm']} dBm" if t["signal_dbm"] is not None else "-", t["operator"] or "-",
                 ", ".join(t.get("degraded", [])) or "-", t.get("problem", "")] for t in trunks]
        print(table(rows, ["NAME", "TYPE", "DIALECT", "PORT", "STATE", "SIGNAL", "OPERATOR", "WITHOUT", "PROBLEM"]))
    else:
        print("no trunks yet: pbx trunk add NAME --type gsm|fxo --dialect ... --port /dev/ttyUSB2")
    return 0


def trunk_del(args: argparse.Namespace) -> int:
    services_for(args).trunks.delete(args.name)
    print(f"trunk {args.name} deleted")
    return 0


def trunk_ussd(args: argparse.Namespace) -> int:
    answer = call_api(args, "POST", f"/trunks/{args.name}/ussd", {"code": args.code}, timeout=40)
    print(answer["text"])
    return 0


def sms_list(args: argparse.Namespace) -> int:
    messages = services_for(args).journal.list_sms(args.limit)
    if args.json:
        print(json.dumps([m.to_dict() for m in messages], indent=1, ensure_ascii=False))
    elif messages:
        print(table([[when(m.at), m.trunk, "<-" if m.direction == "in" else "->", m.peer, m.status,
                       m.text.replace("\n", " ")[:60]] for m in messages],
                     ["WHEN", "TRUNK", "", "NUMBER", "STATUS", "TEXT"]))
    else:
        print("no messages yet")
    return 0


def sms_send(args: argparse.Namespace) -> int:
    record = call_api(args, "POST", "/sms", {"to": args.to, "text": args.text, "trunk": args.trunk or ""},
                      timeout=120)
    print(f"sent to {record['peer']} on {record['trunk']} in {record['parts']} part(s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    trunk = sub.add_parser("trunk", help="phone lines (GSM and FXO modems)").add_subparsers(
        dest="action", required=True)
    p = trunk.add_parser("add", help="add a phone line")
    p.add_argument("name", help="e.g. gsm1, fxo1")
    p.add_argument("--type", choices=tuple(DIALECTS_BY_TYPE), default="gsm")
    p.add_argument("--dialect", help="gsm: " + ", ".join(DIALECTS_BY_TYPE["gsm"]) + "; fxo: "
                   + ", ".join(DIALECTS_BY_TYPE["fxo"]) + " (default: the first)")
    p.add_argument("--port", required=True, help="AT port, e.g. /dev/ttyUSB2 (or sim: a simulator, dev mode)")
    p.add_argument("--audio-port", help="PCM audio port of SIM7600/Huawei modules, e.g. /dev/ttyUSB4")
    p.add_argument("--country", default="RU", help="country of the line's numbers (default RU)")
    p.add_argument("--area-code", help="area code for local numbers on an analog line, e.g. 495")
    p.set_defaults(func=trunk_add)
    p = trunk.add_parser("list", help="phone lines with state, signal, operator and the features a modem lacks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=trunk_list)
    p = trunk.add_parser("del", help="remove a phone line")
    p.add_argument("name")
    p.set_defaults(func=trunk_del)
    p = trunk.add_parser("ussd", help="a USSD request on a GSM line, e.g. the balance (*100#)")
    p.add_argument("name")
    p.add_argument("code")
    p.set_defaults(func=trunk_ussd)

    sms = sub.add_parser("sms", help="text messages on GSM lines").add_subparsers(dest="action", required=True)
    p = sms.add_parser("list", help="messages received and sent, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=sms_list)
    p = sms.add_parser("send", help="send a message (needs the running daemon)")
    p.add_argument("--to", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--trunk", help="which GSM line (default: the first that is up)")
    p.set_defaults(func=sms_send)
    for parser in [*trunk.choices.values(), *sms.choices.values()]:
        add_data_option(parser)
