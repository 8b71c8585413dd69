"""Owner pages: login, forced password change, dashboard, extensions, calls, a caller's history."""
from __future__ import annotations

import functools
import time
from typing import Any, Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from pbx.dialplan.hours import hours_now
from pbx.errors import PbxError
from pbx.services import Services

bp = Blueprint("pages", __name__)


def services() -> Services:
    return current_app.extensions["pbx"]


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session.get("user"):
            return redirect(url_for("pages.login", next=request.path))
        if services().admin.must_change(session["user"]) and request.endpoint != "pages.password":
            return redirect(url_for("pages.password"))
        return view(*args, **kwargs)
    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        user = request.form.get("user", "")
        if services().admin.check(user, request.form.get("password", "")):
            session.clear()
            session["user"] = user
            session.permanent = True
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("pages.dashboard"))
        flash("Wrong user name or password.")
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("pages.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        new, again = request.form.get("new", ""), request.form.get("again", "")
        if new != again:
            flash("The two passwords differ.")
        else:
            try:
                services().admin.set_password(session["user"], new)
                flash("Password changed.")
                return redirect(url_for("pages.dashboard"))
            except PbxError as exc:
                flash(exc.message)
    return render_template("password.html", forced=services().admin.must_change(session["user"]))


@bp.get("/")
@login_required
def dashboard():  # type: ignore[no-untyped-def]
    midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
    svc = services()
    try:
        calls = svc.active_calls()
    except Exception:
        calls = []
    lines = svc.trunk_views()
    hours = hours_now(svc.dialplan) if svc.dialplan is not None else []
    return render_template("dashboard.html", registrations=svc.registrations(), calls=calls,
                           today=svc.journal.summary(midnight), lines=lines, bans=svc.bans(), hours=hours)


@bp.post("/bans/lift")
@login_required
def lift_ban():  # type: ignore[no-untyped-def]
    address = request.form.get("address") or None
    try:
        lifted = services().clear_bans(address)
        flash(f"{lifted} ban(s) lifted.")
    except PbxError as exc:
        flash(exc.message)
    return redirect(url_for("pages.dashboard"))


@bp.route("/extensions", methods=["GET", "POST"])
@login_required
def extensions():  # type: ignore[no-untyped-def]
    svc = services()
    if request.method == "POST":
        try:
            ext = svc.extensions.add(request.form.get("number", ""), request.form.get("name", ""),
                                     request.form.get("password", ""))
            flash(f"Extension {ext.number} added.")
            return redirect(url_for("pages.extensions"))
        except PbxError as exc:
            flash(exc.message)
    registered = {r["ext"] for r in svc.registrations()}
    return render_template("extensions.html", extensions=svc.extensions.list(), registered=registered)


@bp.post("/extensions/<number>/delete")
@login_required
def delete_extension(number: str):  # type: ignore[no-untyped-def]
    try:
        services().extensions.delete(number)
        flash(f"Extension {number} deleted.")
    except PbxError as exc:
        flash(exc.message)
    return redirect(url_for("pages.extensions"))


@bp.get("/calls")
@login_required
def calls():  # type: ignore[no-untyped-def]
    return render_template("calls.html", records=services().journal.list(limit=200))


@bp.get("/callers/<number>")
@login_required
def caller(number: str):  # type: ignore[no-untyped-def]
    """Who a number is and what happened on its calls (linked from the calls list)."""
    try:
        hist = services().caller_history(number[:40], limit=50)
    except PbxError as exc:
        flash(exc.message)
        return redirect(url_for("pages.calls"))
    return render_template("caller.html", hist=hist)


@bp.app_template_filter("when")
def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"
