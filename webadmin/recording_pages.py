"""The owner's recordings: the player's audio (the call log and this page link it), the
list with a filter by number, deleting one recording or every recording of a number (a
data-protection request), and the audit log of who listened, downloaded or deleted.

The audio answers a request without a session 401, not a redirect to the login (a
player cannot follow one), and audits it as refused; each served request is audited as
a listen, or a download with ?download=1."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for

from pbx.errors import PbxError
from pbx.recording import settings as recording_settings
from webadmin.pages import login_required, services
from webadmin.recordings_api import audit, delete_one, number_filter, recordings, serve_audio, source

bp = Blueprint("recording_pages", __name__)
LIST_ROWS, AUDIT_ROWS = 200, 200
BUSY = ("recording", "processing")


def plain(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.get("/recordings/<call_id>/audio")
def audio(call_id: str):  # type: ignore[no-untyped-def]
    user = session.get("user")
    download = request.args.get("download") == "1"
    if not user or services().admin.must_change(user):
        reason = "no session" if not user else "the first password is not changed yet"
        audit = services().audit
        if audit is not None:
            audit.add("refused", call_id, user or "", source(), ok=False,
                                 detail=f"{request.method} {request.path}: {reason}")
        return plain("Log in to listen to recordings.", 401)
    try:
        return serve_audio(call_id, action="download" if download else "listen", who=user, attachment=download)
    except PbxError as exc:
        return plain(exc.message, exc.status)


@bp.get("/recordings")
@login_required
def recordings_page():  # type: ignore[no-untyped-def]
    svc = services()
    if svc.recordings is None or svc.audit is None:
        return render_template("recordings.html", installed=False), 503
    typed = request.args.get("number", "").strip()[:40]
    number = number_filter(typed)
    rows = recordings().list(limit=LIST_ROWS, number=number)
    current = recording_settings.current(svc.settings, as_text=True) if svc.settings is not None else {}
    return render_template("recordings.html", installed=True, rows=rows, typed=typed, number=number,
                           entries=svc.audit.list(limit=AUDIT_ROWS), list_rows=LIST_ROWS, audit_rows=AUDIT_ROWS,
                           fields=recording_settings.FIELDS if current else {}, settings=current, labels=LABELS)


LABELS = {"recording_default": "Record calls", "recording_format": "Compressed format",
          "recording_channels": "Channels", "recording_announcement": "Recording notice",
          "recording_keep_days": "Keep (days)", "recording_quota_mb": "Quota (MB)",
          "recording_min_free_pct": "Stop below free space (%)"}


@bp.post("/recordings/settings")
@login_required
def save_settings():  # type: ignore[no-untyped-def]
    store = services().settings
    if store is None:
        flash("Settings are not available.")
        return back()
    changes = {key: request.form[key] for key in recording_settings.FIELDS if key in request.form}
    try:
        before = recording_settings.current(store, as_text=True)
        recording_settings.update(store, changes)
        changed = {k: v for k, v in changes.items() if str(v).strip() != before[k]}
        if changed:
            audit("settings", "", session["user"], detail=recording_settings.describe(changed))
        flash("Recording settings saved.")
    except PbxError as exc:
        flash(f"Not saved: {exc.message}")
    return back()


def back(number: str = ""):  # type: ignore[no-untyped-def]
    if number:
        return redirect(url_for("recording_pages.recordings_page", number=number))
    return redirect(url_for("recording_pages.recordings_page"))


@bp.post("/recordings/<call_id>/delete")
@login_required
def delete(call_id: str):  # type: ignore[no-untyped-def]
    try:
        delete_one(call_id, session["user"])
        flash(f"Recording of call {call_id} deleted.")
    except PbxError as exc:
        flash(exc.message)
    return back(request.form.get("number", ""))


@bp.post("/recordings/delete-number")
@login_required
def delete_number():  # type: ignore[no-untyped-def]
    """Every recording of calls from or to a number."""
    number = number_filter(request.form.get("number", ""))
    if not number:
        flash("Type the number whose recordings are to be deleted.")
        return back()
    # one by one rather than the store's delete_number: each is audited before it goes (a
    # failure half-way leaves no deleted recording unaccounted for), and one still being
    # recorded or compressed is left until it is finished (its file is open)
    rows = recordings().list(limit=10**6, number=number)
    busy = [r.call_id for r in rows if r.status in BUSY]
    deleted: list[str] = []
    try:
        for rec in rows:
            if rec.status not in BUSY:
                audit("delete_number", rec.call_id, session["user"], detail=f"every recording of {number}")
                recordings().delete(rec.call_id)
                deleted.append(rec.call_id)
        if not rows:
            audit("delete_number", "", session["user"], detail=f"every recording of {number}: there were none")
        flash(f"{len(deleted)} recording(s) of {number} deleted."
              + (f" {len(busy)} still being recorded or compressed: delete them when they are finished."
                 if busy else ""))
    except PbxError as exc:
        flash(f"{len(deleted)} recording(s) of {number} deleted, then: {exc.message}")
    return back()


@bp.app_template_filter("size")
def size(count: int | None) -> str:
    """Bytes as the owner reads them: 900 B, 12.3 kB, 4.5 MB."""
    count = int(count or 0)
    if count < 1000:
        return f"{count} B"
    if count < 1000**2:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1000**2:.1f} MB"
