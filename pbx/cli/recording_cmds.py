"""`pbx recordings list|export|delete`: the recordings' table and files directly, so they
work with or without the daemon. Export and delete are written to the audit log as the
console (who "cli"); `delete --number` is the data-protection request: every recording
of calls from or to that number, each audited."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from pbx.cli import add_data_option
from pbx.cli.admin_cmds import services_for, table, when
from pbx.errors import Conflict, NotFound, PbxError, ValidationError
from pbx.numbers import ANONYMOUS, normalise


def _services(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    services = services_for(args)
    if services.recordings is None or services.audit is None:
        raise PbxError("call recording is not installed")
    return services


def _number(services, raw: str) -> str:  # type: ignore[no-untyped-def]
    """The number as the lines store it: E.164 with the office's country and area code."""
    contacts = services.contacts
    number = normalise(raw, getattr(contacts, "country", "RU"), getattr(contacts, "area_code", ""))
    if number == ANONYMOUS:
        raise ValidationError(f"not a number: {raw!r}")
    return number


def _size(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{size / 1024:.0f} KB"


def recordings_list(args: argparse.Namespace) -> int:
    services = _services(args)
    number = _number(services, args.number) if args.number else None
    recs = services.recordings.list(limit=args.limit, number=number)
    if args.json:
        print(json.dumps([r.public() for r in recs], ensure_ascii=False, indent=1))
    elif recs:
        print(table([[r.call_id, when(r.started), f"{r.duration:.1f}s", r.format, r.status, r.caller or "-",
                      r.callee or "-", _size(r.size), r.note[:50]] for r in recs],
                    ["CALL", "STARTED", "LENGTH", "FORMAT", "STATUS", "CALLER", "CALLEE", "SIZE", "NOTE"]))
    else:
        print(f"no recordings of {number}" if number else "no recordings")
    return 0


def recordings_export(args: argparse.Namespace) -> int:
    services = _services(args)
    rec = services.recordings.get(args.call_id)
    if rec is None:
        raise NotFound(f"no recording of call {args.call_id}")
    if rec.status not in ("ready",):
        raise Conflict(f"the recording of call {args.call_id} is {rec.status}, not ready")
    source = services.recordings.absolute(rec)
    name = f"{rec.call_id}{source.suffix}"
    target = Path(args.output) if args.output else Path(args.dir or ".") / name
    if target.exists():
        raise Conflict(f"{target} exists already")
    if not source.is_file():
        services.audit.add("export", rec.call_id, "cli", "cli", ok=False, detail="the file is missing")
        raise NotFound(f"the file of the recording {args.call_id} is missing")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the copy is personal data too
    with open(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
    services.audit.add("export", rec.call_id, "cli", "cli", detail=str(target.resolve()))
    print(f"recording {rec.call_id} ({rec.format}, {rec.duration:.1f} s) -> {target}")
    return 0


def recordings_delete(args: argparse.Namespace) -> int:
    services = _services(args)
    if bool(args.call_id) == bool(args.number):
        raise ValidationError("give a call id or --number, not both")
    if args.call_id:
        if not services.recordings.delete(args.call_id):
            raise NotFound(f"no recording of call {args.call_id}")
        services.audit.add("delete", args.call_id, "cli", "cli")
        print(f"recording {args.call_id} deleted")
        return 0
    number = _number(services, args.number)
    deleted = services.recordings.delete_number(number)
    for call_id in deleted:
        services.audit.add("delete_number", call_id, "cli", "cli", detail="every recording of a number")
    print(f"{len(deleted)} recording{'s' if len(deleted) != 1 else ''} of {number} deleted")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    rec = sub.add_parser("recordings", help="call recordings").add_subparsers(dest="action", required=True)
    p = rec.add_parser("list", help="recordings, newest first")
    p.add_argument("--number", help="only calls from or to this number")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=recordings_list)
    p = rec.add_parser("export", help="copy a recording's file out (audited)")
    p.add_argument("call_id")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="the file to write")
    where.add_argument("--dir", help="a folder: the file is named after the call")
    p.set_defaults(func=recordings_export)
    p = rec.add_parser("delete", help="delete a call's recording, or --number: every recording of a number")
    p.add_argument("call_id", nargs="?")
    p.add_argument("--number", help="every recording of calls from or to this number (data protection)")
    p.set_defaults(func=recordings_delete)
    for p in rec.choices.values():
        add_data_option(p)
