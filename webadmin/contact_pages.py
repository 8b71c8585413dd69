"""The owner's contacts page: the list with search (by name, company or a number in any
format) and paging, a form to add or edit one (tier, responsible extension, CRM fields),
delete, a file upload that imports CSV or vCard and shows the report, and export links."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from pbx.contacts.importer import import_file
from pbx.contacts.model import PHONE_TYPES, TIERS, Contact
from pbx.errors import PbxError
from webadmin.contacts_api import MAX_IMPORT, export_response, store
from webadmin.pages import login_required, services

bp = Blueprint("contacts", __name__)
PER_PAGE = 50
FORM_FIELDS = ("name", "company", "email", "tier", "responsible", "crm_id", "crm_link", "notes")


def phones_text(contact: Contact) -> str:
    return "\n".join(f"{p.type}: {p.number}" for p in contact.phones)


def from_form(form: Any) -> dict:
    """The form's fields as the store takes them; phones one per line as "type: number"
    (or a bare number)."""
    data = {k: form.get(k, "") for k in FORM_FIELDS}
    phones = []
    for line in form.get("phones", "").replace(",", "\n").splitlines():
        kind, sep, number = line.partition(":")
        if sep and kind.strip().lower() in PHONE_TYPES:
            phones.append({"type": kind.strip().lower(), "number": number.strip()})
        elif line.strip():
            phones.append({"type": "other", "number": line.strip()})
    data["phones"] = phones
    return data


def render(form: dict | None = None, report: dict | None = None, error_field: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    contacts = store()
    q = request.args.get("q", "")[:200]
    try:
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        offset = 0
    items, total = contacts.search(q, offset, PER_PAGE)
    edit = request.args.get("edit", "")
    if form is None and edit:
        try:
            contact = contacts.get(edit)
            form = {**{k: getattr(contact, k) for k in FORM_FIELDS}, "phones": phones_text(contact), "id": edit}
        except PbxError as exc:
            flash(exc.message)
    return render_template("contacts.html", items=items, total=total, q=q, offset=offset, per_page=PER_PAGE,
                           form=form or {"tier": "normal"}, tiers=TIERS, report=report, error_field=error_field,
                           extensions=services().extensions.list(), max_import_mb=MAX_IMPORT // 2**20), status


@bp.get("/contacts")
@login_required
def contacts():  # type: ignore[no-untyped-def]
    return render()


@bp.post("/contacts")
@login_required
def save():  # type: ignore[no-untyped-def]
    data, cid = from_form(request.form), request.form.get("id", "")
    try:
        contact = store().update(cid, data) if cid else store().add(data)
    except PbxError as exc:
        flash(exc.message)
        return render({**request.form.to_dict(), "id": cid}, error_field=str(exc.details.get("field", "")),
                      status=exc.status)
    flash(f"Contact {contact.name} saved.")
    return redirect(url_for("contacts.contacts", q=request.args.get("q", "")))


@bp.post("/contacts/<id>/delete")
@login_required
def delete(id: str):  # type: ignore[no-untyped-def]
    try:
        name = store().get(id).name
        store().delete(id)
        flash(f"Contact {name} deleted.")
    except PbxError as exc:
        flash(exc.message)
    return redirect(url_for("contacts.contacts", q=request.args.get("q", "")))


@bp.post("/contacts/import")
@login_required
def upload():  # type: ignore[no-untyped-def]
    if (request.content_length or 0) > MAX_IMPORT:
        flash(f"The file is larger than {MAX_IMPORT // 2**20} MB.")
        return render(status=413)
    file = request.files.get("file")
    if file is None or not file.filename:
        flash("Choose a CSV or vCard file to import.")
        return render(status=400)
    try:
        report = import_file(store(), file.stream).public()
    except PbxError as exc:
        flash(f"Nothing imported: {exc.message}")
        return render(status=exc.status)
    flash(f"{report['imported']} contacts imported, {report['refused_count']} rows refused.")
    return render(report=report)


@bp.get("/contacts/export.<fmt>")
@login_required
def export(fmt: str):  # type: ignore[no-untyped-def]
    if fmt not in ("csv", "vcf"):
        abort(404)
    version = request.args.get("version", "3.0")
    return export_response(store(), "csv" if fmt == "csv" else "vcard", version if version in ("3.0", "4.0") else "3.0")
