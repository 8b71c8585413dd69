"""`pbx crm webhook add|list|delete` and `pbx crm outbox list|retry|drop`. They write the
outbox's tables directly, so they work whether the daemon runs or not; a running daemon's
delivery workers pick the change up within a few seconds."""
from __future__ import annotations

import argparse
import json

from pbx.cli import add_data_option
from pbx.cli.admin_cmds import services_for, table, when
from pbx.errors import PbxError


def _crm(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    services = services_for(args)
    if services.outbox is None or services.webhooks is None:
        raise PbxError("the CRM outbox is not installed")
    return services


def webhook_add(args: argparse.Namespace) -> int:
    endpoint = _crm(args).webhooks.add({"url": args.url, "types": args.types or "",
                                        "description": args.description or ""})
    print(f"webhook {endpoint.id} -> {endpoint.url} ({', '.join(endpoint.types) or 'every event'})")
    print(f"signing secret: {endpoint.secret}")
    print("(shown once: give it to the receiving side now)", flush=True)
    return 0


def webhook_list(args: argparse.Namespace) -> int:
    endpoints = _crm(args).webhooks.list()
    if args.json:
        print(json.dumps([e.public() for e in endpoints], indent=1))
    elif endpoints:
        print(table([[e.id, e.url, ",".join(e.types) or "*", "yes" if e.enabled else "no", when(e.created)]
                     for e in endpoints], ["ID", "URL", "TYPES", "ENABLED", "CREATED"]))
    else:
        print("no webhook endpoints: pbx crm webhook add URL")
    return 0


def webhook_delete(args: argparse.Namespace) -> int:
    _crm(args).webhooks.delete(args.id)
    print(f"webhook {args.id} deleted (with its undelivered events)")
    return 0


def outbox_list(args: argparse.Namespace) -> int:
    outbox = _crm(args).outbox
    rows = outbox.list(state=args.state, endpoint=args.endpoint, limit=args.limit)
    if args.json:
        print(json.dumps({"deliveries": rows, "counts": outbox.counts()}, indent=1))
        return 0
    if rows:
        print(table([[str(r["id"]), r["endpoint_id"], r["type"], when(r["at"]), r["state"], str(r["attempts"]),
                      (r["last_error"] or "")[:60]] for r in rows],
                    ["ID", "ENDPOINT", "EVENT", "AT", "STATE", "TRIES", "LAST ERROR"]))
    else:
        print("the outbox is empty" if not args.state else f"no {args.state} deliveries")
    print(", ".join(f"{n} {state}" for state, n in outbox.counts().items()))
    return 0


def outbox_retry(args: argparse.Namespace) -> int:
    delivery = _crm(args).outbox.retry(args.id)
    print(f"delivery {args.id} ({delivery['type']} to {delivery['endpoint_id']}) will be sent again")
    return 0


def outbox_drop(args: argparse.Namespace) -> int:
    _crm(args).outbox.drop(args.id)
    print(f"delivery {args.id} dropped")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    crm = sub.add_parser("crm", help="CRM webhooks and their outbox").add_subparsers(dest="what", required=True)
    hooks = crm.add_parser("webhook", help="webhook endpoints").add_subparsers(dest="action", required=True)
    p = hooks.add_parser("add", help="add an endpoint and print its signing secret once")
    p.add_argument("url", help="http:// or https:// address")
    p.add_argument("--types", help="event types, comma-separated (default: every event)")
    p.add_argument("--description")
    p.set_defaults(func=webhook_add)
    p = hooks.add_parser("list", help="list endpoints")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=webhook_list)
    p = hooks.add_parser("delete", help="delete an endpoint")
    p.add_argument("id")
    p.set_defaults(func=webhook_delete)

    box = crm.add_parser("outbox", help="event deliveries").add_subparsers(dest="action", required=True)
    p = box.add_parser("list", help="deliveries, newest first")
    p.add_argument("--state", choices=["pending", "delivered", "dead"])
    p.add_argument("--endpoint", help="one endpoint's deliveries")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=outbox_list)
    p = box.add_parser("retry", help="send a dead or waiting delivery again now")
    p.add_argument("id", type=int)
    p.set_defaults(func=outbox_retry)
    p = box.add_parser("drop", help="give a delivery up")
    p.add_argument("id", type=int)
    p.set_defaults(func=outbox_drop)
    for p in [*hooks.choices.values(), *box.choices.values()]:
        add_data_option(p)
