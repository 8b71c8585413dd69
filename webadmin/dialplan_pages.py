"""Owner pages for the dial plan: routes (with outbound permissions), IVRs (with
announcements), ring groups, time conditions and prompts.

One section page per menu entry shows its objects and a form per kind; the same three
views save, delete and re-show every kind. A form the store refuses comes back as typed,
with the message and the wrong input marked, and nothing saved."""
from __future__ import annotations

from pathlib import PurePath
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from pbx import planedit
from pbx.errors import PbxError
from webadmin.dialplan_forms import CLASSES, KEYS, from_form, marked, schedule_rows, to_form
from webadmin.pages import login_required, services

bp = Blueprint("dialplan", __name__)

SECTIONS = {"routes": ("inbound", "outbound", "permission"), "ivrs": ("ivr", "announcement"),
            "ringgroups": ("ringgroup",), "timeconditions": ("timecondition",), "prompts": ("prompt",)}
SECTION_RULE = "<any(" + ", ".join(SECTIONS) + "):section>"
TITLES = {"inbound": "Inbound route", "outbound": "Outbound route", "permission": "Permission",
          "ivr": "IVR", "announcement": "Announcement", "ringgroup": "Ring group",
          "timecondition": "Time condition", "prompt": "Prompt"}
DESTINATION_KINDS = ("ringgroup", "ivr", "timecondition", "announcement")
KEY_ONLY = {"ivr:return": "back to the menu before (ivr:return)", "ivr:repeat": "this menu again (ivr:repeat)"}
STRATEGIES = ("ringall", "hunt", "memoryhunt", "roundrobin", "random", "firstavailable")
CALLERS = ("any", "number", "prefix", "anonymous", "list")
MAX_DEPTH = 8  # an IVR tree deeper than this is cut (menus sharing sub-menus grow fast)


def destinations(objs: dict[str, list[dict]]) -> dict[str, str]:
    """Every destination a call can be sent to, with a label naming it."""
    labels = {f"extension:{e.number}": f"extension:{e.number} ({e.name})" for e in services().extensions.list()}
    for kind in DESTINATION_KINDS:
        for obj in objs[kind]:
            number = f", {obj['number']}" if obj.get("number") else ""
            labels[f"{kind}:{obj['id']}"] = f"{kind}:{obj['id']} ({obj.get('name', '')}{number})"
    labels["hangup"] = "hangup"
    return labels


def ivr_tree(ivrs: dict[str, dict], ivr_id: str, path: tuple[str, ...] = ()) -> list[dict]:
    """The menu's keys, each with the sub-menu it leads to; a key back to a menu on the
    way here is a cycle and stops there."""
    nodes = []
    keys = ivrs[ivr_id].get("keys", {})
    for key in (k for k in KEYS if k in keys):
        kind, _, target = keys[key].partition(":")
        node: dict[str, Any] = {"key": key, "dest": keys[key], "cycle": False, "children": []}
        if kind == "ivr" and target in ivrs:
            if target in (*path, ivr_id):
                node["cycle"] = True
            elif len(path) < MAX_DEPTH:
                node["children"] = ivr_tree(ivrs, target, (*path, ivr_id))
        nodes.append(node)
    return nodes


def duration(svc: Any, prompt_id: str) -> float | None:
    """Seconds of the prompt's audio; None when it has none (or no library is installed)."""
    try:
        return planedit.library(svc).duration(prompt_id)
    except PbxError:
        return None


def render_section(section: str, forms: dict[str, Any] | None = None, error: dict | None = None,
                   status: int = 200):  # type: ignore[no-untyped-def]
    svc = services()
    plan = planedit.plan(svc)
    objs = {kind: plan.list(kind) for kind in TITLES}
    forms = dict(forms or {})
    edit = request.args.get("edit", "")
    kind, _, obj_id = edit.partition(":")
    if kind in SECTIONS[section] and kind not in forms:
        obj = plan.get(kind, obj_id)
        if obj is not None:
            forms[kind] = to_form(kind, obj)
    context: dict[str, Any] = {
        "section": section, "objs": objs, "forms": {**{k: {} for k in (*SECTIONS[section], "upload")}, **forms},
        "error": error or {}, "labels": destinations(objs), "key_only": KEY_ONLY, "keys": KEYS,
        "strategies": STRATEGIES, "callers": CALLERS, "classes": CLASSES, "titles": TITLES,
        "trunks": [t.name for t in svc.trunks.list()],
        "prompt_options": [(p["id"], f"{p['id']} ({p.get('name', '')})") for p in objs["prompt"]],
    }
    if section == "ivrs":
        ivrs = {ivr["id"]: ivr for ivr in objs["ivr"]}
        context["trees"] = {ivr_id: ivr_tree(ivrs, ivr_id) for ivr_id in ivrs}
    if section == "timeconditions":
        context["rows"] = schedule_rows(forms.get("timecondition", {})) + 2
    if section == "prompts":
        context["durations"] = {p["id"]: duration(svc, p["id"]) for p in objs["prompt"]}
    return render_template(f"{section}.html", **context), status


def refused(section: str, kind: str, exc: PbxError):  # type: ignore[no-untyped-def]
    """The section again with the form as typed, its message and its wrong input marked."""
    field = str(exc.details.get("field") or "")
    error = {"kind": kind, "field": field, "message": planedit.named(exc)}
    return render_section(section, {kind: request.form}, error, status=exc.status)


@bp.app_template_global()
def values(form: Any, name: str) -> list[str]:
    """The values of a multi-valued input, from a submitted form or from to_form."""
    if hasattr(form, "getlist"):
        return form.getlist(name)
    value = form.get(name, [])
    return value if isinstance(value, list) else [value]


@bp.app_template_global("marked")
def marked_global(name: str, error: dict, kind: str) -> bool:
    return error.get("kind") == kind and marked(name, error.get("field"))


@bp.get(f"/{SECTION_RULE}")
@login_required
def section(section: str):  # type: ignore[no-untyped-def]
    return render_section(section)


@bp.post(f"/{SECTION_RULE}/<kind>")
@login_required
def save(section: str, kind: str):  # type: ignore[no-untyped-def]
    if kind not in SECTIONS[section]:
        abort(404)
    svc = services()
    original = request.form.get("original", "")
    try:
        previous = planedit.existing(svc, kind, original) if original else None
        obj = from_form(kind, request.form, previous)
        if previous is None:
            saved = planedit.create(svc, kind, obj)
        else:
            saved = planedit.replace(svc, kind, original, obj)
    except PbxError as exc:
        return refused(section, kind, exc)
    flash(f"{TITLES[kind]} {saved['id']} saved.")
    return redirect(url_for(".section", section=section))


@bp.post(f"/{SECTION_RULE}/<kind>/<obj_id>/delete")
@login_required
def delete(section: str, kind: str, obj_id: str):  # type: ignore[no-untyped-def]
    if kind not in SECTIONS[section]:
        abort(404)
    try:
        planedit.delete(services(), kind, obj_id)
        flash(f"{TITLES[kind]} {obj_id} deleted.")
    except PbxError as exc:
        flash(planedit.named(exc))
    return redirect(url_for(".section", section=section))


@bp.post("/timeconditions/<obj_id>/override")
@login_required
def override(obj_id: str):  # type: ignore[no-untyped-def]
    value = request.form.get("override", "")
    try:
        planedit.override(services(), obj_id, value)
        flash(f"Time condition {obj_id}: " + (f"forced {value}." if value else "follows its schedule."))
    except PbxError as exc:
        flash(planedit.named(exc))
    if request.form.get("back") == "dashboard":  # the dashboard's override buttons
        return redirect(url_for("pages.dashboard"))
    return redirect(url_for(".section", section="timeconditions"))


@bp.post("/prompts/upload")
@login_required
def upload():  # type: ignore[no-untyped-def]
    """Audio for a prompt; a new id makes the prompt too (with the name and language given)."""
    svc = services()
    form: Any = {}  # a body too big is not read, not even for the form's other fields
    try:
        planedit.check_size(request.content_length)
        form, file = request.form, request.files.get("file")
        prompt_id = form.get("id", "").strip()
        new = None if planedit.plan(svc).get("prompt", prompt_id) else {
            "id": prompt_id, "name": form.get("name", "").strip() or prompt_id, "language": form.get("language", "")}
        data = file.read() if file else b""
        planedit.upload(svc, prompt_id, data, PurePath(file.filename or "").name if file else "", new)
    except PbxError as exc:
        field = str(exc.details.get("field") or "")
        error = {"kind": "upload", "field": field, "message": planedit.named(exc)}
        return render_section("prompts", {"upload": form}, error, status=exc.status)
    flash(f"Prompt {prompt_id}: audio uploaded.")
    return redirect(url_for(".section", section="prompts"))


@bp.get("/prompts/<prompt_id>/audio")
@login_required
def prompt_audio(prompt_id: str):  # type: ignore[no-untyped-def]
    """The WAV for the page's <audio> preview (the REST one wants a bearer token)."""
    svc = services()
    planedit.existing(svc, "prompt", prompt_id)
    return send_file(planedit.library(svc).path(prompt_id), mimetype="audio/wav", max_age=0)
