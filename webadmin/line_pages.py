"""Owner pages for the phone lines: their state, adding and removing them, and the text
messages they received and sent (sending one too)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from pbx.errors import PbxError
from pbx.store.trunks import DIALECTS_BY_TYPE, new_trunk
from webadmin.pages import login_required, services

bp = Blueprint("lines", __name__)
FIELDS = ("name", "type", "dialect", "port", "audio_port", "country", "area_code")


@bp.route("/lines", methods=["GET", "POST"])
@login_required
def lines():  # type: ignore[no-untyped-def]
    svc = services()
    if request.method == "POST":
        try:
            trunk = svc.trunks.add(new_trunk(**{k: request.form.get(k, "") for k in FIELDS}))
            flash(f"Line {trunk.name} added; it starts within a few seconds.")
            return redirect(url_for("lines.lines"))
        except PbxError as exc:
            flash(exc.message)
    return render_template("lines.html", lines=svc.trunk_views(), dialects=DIALECTS_BY_TYPE, form=request.form)


@bp.post("/lines/<name>/delete")
@login_required
def delete_line(name: str):  # type: ignore[no-untyped-def]
    try:
        services().trunks.delete(name)
        flash(f"Line {name} removed.")
    except PbxError as exc:
        flash(exc.message)
    return redirect(url_for("lines.lines"))


@bp.route("/messages", methods=["GET", "POST"])
@login_required
def messages():  # type: ignore[no-untyped-def]
    svc = services()
    if request.method == "POST":
        try:
            record = svc.send_sms(request.form.get("to", ""), request.form.get("text", ""),
                                  request.form.get("trunk", ""))
            flash(f"Message sent to {record.peer} on {record.trunk}.")
            return redirect(url_for("lines.messages"))
        except PbxError as exc:
            flash(exc.message)
    gsm = [t.name for t in svc.trunks.list() if t.type == "gsm"]
    return render_template("messages.html", messages=svc.journal.list_sms(200), gsm=gsm, form=request.form)
