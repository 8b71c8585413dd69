"""`pbx contacts list|show|add|edit|delete|import|export`: the contacts store from the
console. Like `pbx ext` they open the store file directly (a running daemon's watch
thread takes the change in within a second), so they work with or without the daemon.

Import shows a progress line on stderr (percentage of the file's bytes read; a plain
line rewritten with \\r keeps the appliance free of a progress-bar dependency) and then
the refused rows; it exits 1 when rows were refused, 2 when nothing could be read."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pbx.cli import add_data_option
from pbx.cli.admin_cmds import table
from pbx.contacts.exporter import csv_chunks, vcard_chunks
from pbx.contacts.importer import import_file
from pbx.contacts.store import ContactStore, open_contacts
from pbx.errors import ValidationError

FIELD_OPTIONS = (("--name", "name"), ("--company", "company"), ("--email", "email"), ("--tier", "tier"),
                 ("--responsible", "responsible"), ("--crm-id", "crm_id"), ("--crm-link", "crm_link"),
                 ("--notes", "notes"))


def store_for(args: argparse.Namespace) -> ContactStore:
    return open_contacts(Path(args.data), live=False)


def _fields(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """The stored fields (or none), then --json laid over, then the options given."""
    data = dict(base)
    if args.json_fields:
        try:
            extra = json.loads(args.json_fields)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"--json: {exc}") from None
        if not isinstance(extra, dict):
            raise ValidationError("--json: a JSON object")
        data.update(extra)
    for _, field in FIELD_OPTIONS:
        value = getattr(args, field)
        if value is not None:
            data[field] = value
    if args.phone is not None:
        phones = []
        for item in args.phone:
            kind, sep, number = item.partition(":")
            phones.append({"type": kind, "number": number} if sep and not kind.strip().lstrip("+").isdigit()
                          else {"type": "other", "number": item})
        data["phones"] = phones
    return data


def _stored(contact: Any) -> dict[str, Any]:
    data = contact.public()
    data.pop("id"), data.pop("updated")
    data["phones"] = [{"type": p["type"], "number": p["number"]} for p in data["phones"]]
    return data


def contacts_list(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        items, total = store.search(args.query or "", args.offset, args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"items": [c.public() for c in items], "total": total, "offset": args.offset,
                          "limit": args.limit}, ensure_ascii=False, indent=1))
        return 0
    if not items:
        print("no contact matches" if args.query
              else "no contacts yet: pbx contacts add --name NAME --phone mobile:NUMBER")
        return 0
    rows = [[c.id, c.name, c.company, ", ".join(p.number for p in c.phones), c.tier, c.responsible or "-"]
            for c in items]
    print(table(rows, ["ID", "NAME", "COMPANY", "NUMBERS", "TIER", "RESPONSIBLE"]))
    print(f"({args.offset + 1}-{args.offset + len(items)} of {total})")
    return 0


def contacts_show(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        print(json.dumps(store.get(args.id).public(), ensure_ascii=False, indent=1))
    finally:
        store.close()
    return 0


def contacts_add(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        contact = store.add(_fields(args, {}))
    finally:
        store.close()
    print(f"contact {contact.id} ({contact.name}) added")
    return 0


def contacts_edit(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        contact = store.update(args.id, _fields(args, _stored(store.get(args.id))))
    finally:
        store.close()
    print(f"contact {contact.id} ({contact.name}) saved")
    return 0


def contacts_delete(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        store.delete(args.id)
    finally:
        store.close()
    print(f"contact {args.id} deleted")
    return 0


class ProgressLine:
    """`importing FILE:  42% (12500 rows)` on stderr, at most 10 times a second."""

    def __init__(self, name: str, size: int, stream: Any = None) -> None:
        self.name, self.size, self.stream, self.last = name, size, stream or sys.stderr, 0.0

    def __call__(self, rows: int, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        percent = min(100, done * 100 // self.size) if self.size else 100
        self.stream.write(f"\rimporting {self.name}: {percent:3d}% ({rows} rows)")
        self.stream.flush()

    def finish(self, rows: int) -> None:
        self.stream.write(f"\rimporting {self.name}: 100% ({rows} rows)\n")
        self.stream.flush()


def contacts_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    store = store_for(args)
    progress = ProgressLine(path.name, path.stat().st_size) if not args.quiet else None
    try:
        with path.open("rb") as raw:
            report = import_file(store, raw, args.format, progress)
    except BaseException:
        if progress is not None and progress.last:
            sys.stderr.write("\n")  # the error goes on a line of its own
        raise
    finally:
        store.close()
    if progress is not None:
        progress.finish(report.imported + report.refused_count)
    result = report.public()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(f"{report.imported} contacts imported, {report.refused_count} rows refused")
        for row in report.refused:
            print(f"  row {row['row']}: {row['reason']}")
        if report.refused_count > len(report.refused):
            print(f"  ... and {report.refused_count - len(report.refused)} more")
        if report.ignored_columns:
            print(f"columns ignored: {', '.join(report.ignored_columns)}")
    return 1 if report.refused_count else 0


def contacts_export(args: argparse.Namespace) -> int:
    store = store_for(args)
    try:
        chunks = csv_chunks(store.list_all()) if args.format == "csv" else \
            vcard_chunks(store.list_all(), args.vcard_version)
        if args.output in (None, "-"):
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        else:
            partial = Path(args.output + ".part")
            with partial.open("w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(partial, args.output)  # a file half-written is never left under the name asked for
            print(f"{store.count()} contacts written to {args.output}", file=sys.stderr)
    finally:
        store.close()
    return 0


def _field_options(p: argparse.ArgumentParser) -> None:
    for flag, field in FIELD_OPTIONS:
        p.add_argument(flag, dest=field)
    p.add_argument("--phone", action="append", metavar="TYPE:NUMBER",
                   help="a number (mobile:, work:, home:, fax:, other:), repeatable; replaces the numbers")
    p.add_argument("--json", dest="json_fields", metavar="OBJECT", help="fields as a JSON object")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("contacts", help="the office's contacts (caller names, tier, responsible)")
    actions = parser.add_subparsers(dest="action", required=True)
    p = actions.add_parser("list", help="list or search contacts")
    p.add_argument("query", nargs="?", help="name, company or a number in any format")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=contacts_list)
    p = actions.add_parser("show", help="one contact as JSON")
    p.add_argument("id")
    p.set_defaults(func=contacts_show)
    p = actions.add_parser("add", help="add a contact")
    _field_options(p)
    p.set_defaults(func=contacts_add)
    p = actions.add_parser("edit", help="change a contact (the options given; the rest stays)")
    p.add_argument("id")
    _field_options(p)
    p.set_defaults(func=contacts_edit)
    p = actions.add_parser("delete", help="delete a contact")
    p.add_argument("id")
    p.set_defaults(func=contacts_delete)
    p = actions.add_parser("import", help="import a CSV or vCard file (one transaction)")
    p.add_argument("file")
    p.add_argument("--format", choices=("csv", "vcard"), help="default: from the file's start")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=contacts_import)
    p = actions.add_parser("export", help="write every contact as CSV or vCard")
    p.add_argument("--format", choices=("csv", "vcard"), default="csv")
    p.add_argument("--vcard-version", choices=("3.0", "4.0"), default="3.0")
    p.add_argument("-o", "--output", help="file (default: standard output)")
    p.set_defaults(func=contacts_export)
    for action in actions.choices.values():
        add_data_option(action)
