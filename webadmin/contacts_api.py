"""Contacts over the REST bridge: a paged, searchable list, one contact's CRUD, import
(a CSV or vCard body, spooled whole, then read into one transaction) and a streamed export."""
from __future__ import annotations

import shutil
import tempfile

from flask import Blueprint, Response, jsonify, request, stream_with_context
from werkzeug.routing import BaseConverter

from pbx.contacts.exporter import FORMATS, csv_chunks, vcard_chunks
from pbx.contacts.importer import import_file
from pbx.contacts.store import ContactStore
from pbx.errors import PbxError, StorageError, ValidationError
from webadmin.api import query_int, require_token, services

bp = Blueprint("contacts_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


class ContactIdConverter(BaseConverter):
    """Only a contact id matches /contacts/<id>, so /contacts/import is never one."""
    regex = r"c_[0-9a-f]{16}"


@bp.record_once
def _converter(state) -> None:  # type: ignore[no-untyped-def]
    state.app.url_map.converters.setdefault("contact_id", ContactIdConverter)

MAX_IMPORT = 64 * 2**20  # 64 MB: room for a 50 MB vCard export of a phone; spooled to disk past 8 MB
IMPORT_TYPES = {"text/csv": "csv", "application/csv": "csv", "text/vcard": "vcard", "text/x-vcard": "vcard",
                "text/directory": "vcard"}


class TooLarge(PbxError):
    status = 413
    error_id = "too_large"


def store() -> ContactStore:
    contacts = services().contacts
    if contacts is None:
        raise StorageError("the contacts store is not open")
    return contacts


def _object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object with the contact's fields (name required)")
    return body


def page(contacts: ContactStore, q: str, offset: int, limit: int) -> dict:
    items, total = contacts.search(q, offset, limit)
    return {"items": [c.public() for c in items], "total": total, "offset": offset, "limit": limit}


@bp.get("/contacts")
def list_contacts():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    if len(q) > 200:
        raise ValidationError("q: at most 200 characters", details={"field": "q"})
    return jsonify(page(store(), q, query_int("offset", 0, 0, 10**9), query_int("limit", 50, 1, 1000)))


@bp.post("/contacts")
def create_contact():  # type: ignore[no-untyped-def]
    return jsonify(store().add(_object()).public()), 201


@bp.get("/contacts/<contact_id:id>")
def read_contact(id: str):  # type: ignore[no-untyped-def]
    return jsonify(store().get(id).public())


@bp.put("/contacts/<contact_id:id>")
def replace_contact(id: str):  # type: ignore[no-untyped-def]
    return jsonify(store().update(id, _object()).public())


@bp.delete("/contacts/<contact_id:id>")
def delete_contact(id: str):  # type: ignore[no-untyped-def]
    store().delete(id)
    return "", 204


@bp.post("/contacts/import")
def import_contacts():  # type: ignore[no-untyped-def]
    """The body is the file: Content-Type text/csv or text/vcard (or ?format=)."""
    length = request.content_length
    if length is not None and length > MAX_IMPORT:
        raise TooLarge(f"the file is larger than {MAX_IMPORT // 2**20} MB", details={"limit": MAX_IMPORT})
    fmt = request.args.get("format") or IMPORT_TYPES.get(request.mimetype)
    if fmt not in ("csv", "vcard"):
        raise ValidationError("send the file as text/csv or text/vcard (or give ?format=csv|vcard)",
                              details={"field": "format"})
    # The whole body first: the import holds the store's write lock, which a slow client
    # must not keep for as long as it takes to send the file.
    with tempfile.SpooledTemporaryFile(max_size=8 * 2**20) as body:
        shutil.copyfileobj(_Limited(request.stream, MAX_IMPORT), body, 2**20)
        body.seek(0)
        report = import_file(store(), body, fmt)
    return jsonify(report.public())


class _Limited:
    """The request stream, refused past the limit (a chunked body has no length)."""

    def __init__(self, stream, limit: int) -> None:  # type: ignore[no-untyped-def]
        self.stream, self.left = stream, limit

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size is not None and size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise TooLarge(f"the file is larger than {MAX_IMPORT // 2**20} MB", details={"limit": MAX_IMPORT})
        return data


@bp.get("/contacts/export")
def export_contacts():  # type: ignore[no-untyped-def]
    fmt = request.args.get("format", "csv")
    version = request.args.get("version", "3.0")
    if fmt not in FORMATS:
        raise ValidationError("format: csv or vcard", details={"field": "format"})
    if version not in ("3.0", "4.0"):
        raise ValidationError("version: 3.0 or 4.0 (vCard)", details={"field": "version"})
    return export_response(store(), fmt, version)


def export_response(contacts: ContactStore, fmt: str, version: str = "3.0") -> Response:
    """A streamed download (the web page's export links use it too)."""
    chunks = csv_chunks(contacts.list_all()) if fmt == "csv" else vcard_chunks(contacts.list_all(), version)
    name = "contacts.csv" if fmt == "csv" else "contacts.vcf"
    return Response(stream_with_context(c.encode() for c in chunks), mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
