"""Call recordings on the REST bridge: the list (read), the audio with Range support and
deleting it (admin), and starting or stopping a live call's recording (write).

Recordings are personal data, so every access is written to the audit log: each served
audio request (`download`), each deletion, each start and stop, and every request under
/api/v1/recordings refused for a missing token or too small a scope (`refused`, with the
reason). The audit row is written before the audio goes out: if it cannot be written the
audio is not served. The web admin's player uses serve_audio() below with the session's
user instead of a token."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file

from pbx.errors import AuthError, Conflict, NotFound, PbxError, ValidationError
from pbx.numbers import normalise
from pbx.recording import settings as recording_settings
from pbx.services import Services
from webadmin.api import query_int, require_token
from webadmin.bearer import current_grant
from webadmin.crm_api import installed

bp = Blueprint("recordings", __name__, url_prefix="/api/v1")
AUDITED_PREFIX = "/api/v1/recordings"
# audio/ogg for Opus too: it is Opus in an Ogg container, and browsers pick the codec
MIMETYPES = {"ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav"}
CONTROL_ACTIONS = ("start", "stop")


class NotRunning(PbxError):
    status = 503
    error_id = "not_running"


def services() -> Services:
    return current_app.extensions["pbx"]


def recordings():  # type: ignore[no-untyped-def]
    return installed(services().recordings, "call recording is not installed")


def audit_log():  # type: ignore[no-untyped-def]
    return installed(services().audit, "call recording is not installed")


def source() -> str:
    return request.remote_addr or ""


def audit(action: str, call_id: str, who: str, ok: bool = True, detail: str = "") -> None:
    audit_log().add(action, call_id, who, source(), ok=ok, detail=detail)


def number_filter(raw: str) -> str | None:
    """A number as typed (8 916 ..., +7916...) in the form the recordings keep (E.164)."""
    raw = raw.strip()[:40]
    if not raw:
        return None
    contacts = services().contacts
    return normalise(raw, getattr(contacts, "country", "RU"), getattr(contacts, "area_code", ""))


def ready(call_id: str):  # type: ignore[no-untyped-def]
    """The call's recording when its audio can be served: 404 when there is none (or it
    failed, or its file is gone), 409 while it is still being recorded or compressed."""
    rec = recordings().get(call_id)
    if rec is None:
        raise NotFound(f"call {call_id} has no recording", details={"call_id": call_id})
    if rec.status in ("recording", "processing"):
        state = "still being recorded" if rec.status == "recording" else "still being compressed"
        raise Conflict(f"the recording of call {call_id} is not ready yet: {state}; ask again when it is ready",
                       details={"call_id": call_id, "status": rec.status})
    if rec.status != "ready":
        raise NotFound(f"the recording of call {call_id} failed" + (f": {rec.note}" if rec.note else ""),
                       details={"call_id": call_id, "status": rec.status})
    path = recordings().absolute(rec)
    if not path.is_file():
        raise NotFound(f"the audio file of call {call_id} is missing", details={"call_id": call_id})
    return rec, path


def serve_audio(call_id: str, *, action: str, who: str, attachment: bool) -> Response:
    """The audio of a ready recording, with Range (206, 416) and conditional requests,
    audited as `action` once the answer is known to carry audio."""
    rec, path = ready(call_id)
    resp = send_file(path, mimetype=MIMETYPES.get(rec.format, "application/octet-stream"), conditional=True,
                     as_attachment=attachment, download_name=f"{call_id}.{path.suffix.lstrip('.')}",
                     max_age=0, etag=True)
    if resp.status_code in (200, 206) and request.method != "HEAD":
        span = resp.headers.get("Content-Range", "")
        try:
            audit(action, call_id, who, detail=f"{span}" if span else f"bytes {resp.content_length or 0}")
        except PbxError:
            resp.close()  # not written to the audit log: not served
            raise
    resp.headers["Cache-Control"] = "no-store"  # personal data: kept by no cache on the way
    return resp


def refusal_reason(exc: PbxError) -> str:
    if isinstance(exc, AuthError):
        return f"{request.method} {request.path}: no valid bearer token"
    needed, scope = exc.details.get("needed_scope"), exc.details.get("token_scope")
    return f"{request.method} {request.path}: token scope {scope}, needs {needed}" if needed else exc.message


@bp.before_request
def guard():  # type: ignore[no-untyped-def]
    """The API's token guard; a refusal under /api/v1/recordings is audited too."""
    if not request.path.startswith(AUDITED_PREFIX):
        return require_token()
    try:
        return require_token()
    except PbxError as exc:
        grant = current_grant()
        if services().audit is not None:
            call_id = (request.view_args or {}).get("call_id", "")
            services().audit.add("refused", call_id, grant.name if grant else "", source(), ok=False,
                                 detail=refusal_reason(exc))
        raise


def settings_store():  # type: ignore[no-untyped-def]
    return installed(services().settings, "settings are not available")


@bp.get("/recording-settings")
def get_recording_settings():  # type: ignore[no-untyped-def]
    return jsonify(recording_settings.current(settings_store()))


@bp.patch("/recording-settings")
def patch_recording_settings():  # type: ignore[no-untyped-def]
    """Some of the settings; every one is checked before any is written; audited."""
    changes = request.get_json(silent=True)
    now = recording_settings.update(settings_store(), changes)
    grant = current_grant()
    audit("settings", "", grant.name if grant else "", detail=recording_settings.describe(changes))
    return jsonify(now)


@bp.get("/recordings")
def list_recordings():  # type: ignore[no-untyped-def]
    limit, number = query_int("limit", 100, 1, 1000), request.args.get("number", "")
    if len(number) > 40:
        raise ValidationError("number: at most 40 characters", details={"field": "number"})
    rows = recordings().list(limit=limit, number=number_filter(number))
    return jsonify([r.public() for r in rows])


@bp.get("/recordings/<call_id>")
def get_audio(call_id: str):  # type: ignore[no-untyped-def]
    return serve_audio(call_id, action="download", who=g.token_name, attachment=False)


@bp.delete("/recordings/<call_id>")
def delete_recording(call_id: str):  # type: ignore[no-untyped-def]
    delete_one(call_id, g.token_name)
    return "", 204


def delete_one(call_id: str, who: str) -> None:
    """Delete a finished recording (file and row), audited; one still being written or
    compressed is refused (409): its file is open in the recorder or the compressor."""
    rec = recordings().get(call_id)
    if rec is None:
        raise NotFound(f"call {call_id} has no recording", details={"call_id": call_id})
    if rec.status in ("recording", "processing"):
        raise Conflict(f"the recording of call {call_id} is {rec.status}: stop or wait for it, then delete it",
                       details={"call_id": call_id, "status": rec.status})
    audit("delete", call_id, who, detail=f"{rec.format}, {rec.duration:.1f} s, {rec.caller} -> {rec.callee}")
    recordings().delete(call_id)


@bp.post("/calls/<call_id>/recording")
def control_recording(call_id: str):  # type: ignore[no-untyped-def]
    """Start or stop recording a live call (on demand)."""
    body = request.get_json(silent=True)
    action = body.get("action") if isinstance(body, dict) else None
    if action not in CONTROL_ACTIONS:
        raise ValidationError("expected a JSON object with action: start or stop", details={"field": "action"})
    control = getattr(services(), "record_control", None)
    if control is None:
        raise NotRunning("the daemon is not running")
    try:
        result = control(call_id, action)
    except ValidationError as exc:  # e.g. the call is not answered yet: a state, not bad input
        audit(action, call_id, g.token_name, ok=False, detail=exc.message)
        raise Conflict(exc.message, details=exc.details) from None
    except PbxError as exc:
        audit(action, call_id, g.token_name, ok=False, detail=exc.message)
        raise
    audit(action, call_id, g.token_name)
    return jsonify(result if isinstance(result, dict) else {"call_id": call_id, "action": action})
