"""Edits of the dial plan that the REST bridge, the web pages and the CLI share.

The store validates objects; what it cannot know is how an edit arrives: "create" must
not silently replace an object of the same id, "replace" must not create one, and a
prompt is an object plus its audio file, which have to change together (a prompt saved
without the audio its text promises, or audio left behind for a prompt refused, is a
half-save the contract forbids).
"""
from __future__ import annotations

from typing import Any

from pbx.errors import Conflict, NotFound, PbxError, ValidationError
from pbx.services import Services

OVERRIDES = ("", "matched", "unmatched")
MAX_UPLOAD = 64 * 1024 * 1024  # ten minutes of CD-quality WAV fit; the library cuts at ten minutes anyway


class Unavailable(PbxError):
    """The dial plan store or the prompt library is not installed in this build."""

    status = 503
    error_id = "unavailable"


def plan(svc: Services) -> Any:
    if svc.dialplan is None:
        raise Unavailable("the dial plan store is not installed")
    return svc.dialplan


def library(svc: Services) -> Any:
    if svc.prompts is None:
        raise Unavailable("the prompt library is not installed")
    return svc.prompts


def named(exc: PbxError) -> str:
    """The error's message, starting with the field it is about (a page marks that field,
    a person reading a CLI error needs its name too) and naming who still refers to an
    object that cannot be deleted."""
    field = str(exc.details.get("field") or "")
    message = f"{field}: {exc.message}" if field and field not in exc.message else exc.message
    referrers = [r for r in exc.details.get("referrers") or () if r not in message]
    return f"{message} (used by {', '.join(referrers)})" if referrers else message


def existing(svc: Services, kind: str, obj_id: str) -> dict:
    obj = plan(svc).get(kind, obj_id)
    if obj is None:
        raise NotFound(f"{kind} {obj_id} does not exist")
    return obj


def create(svc: Services, kind: str, obj: dict) -> dict:
    obj_id = obj.get("id")
    if isinstance(obj_id, str) and plan(svc).get(kind, obj_id) is not None:
        raise Conflict(f"{kind} {obj_id} exists already", details={"field": "id"})
    return save(svc, kind, obj, None)


def replace(svc: Services, kind: str, obj_id: str, obj: dict) -> dict:
    previous = existing(svc, kind, obj_id)
    if obj.setdefault("id", obj_id) != obj_id:
        raise ValidationError(f"id {obj['id']} differs from the {kind} edited ({obj_id})", details={"field": "id"})
    return save(svc, kind, obj, previous)


def save(svc: Services, kind: str, obj: dict, previous: dict | None) -> dict:
    """Save; a prompt with text is spoken when new, when its words or language changed,
    or when it has no audio (not on a rename: that would undo an upload)."""
    if kind != "prompt" or not obj.get("text"):
        return plan(svc).save(kind, obj)
    prompts = library(svc)
    saved = plan(svc).save(kind, obj)
    words = (saved.get("text"), saved.get("language"))
    if previous is not None and words == (previous.get("text"), previous.get("language")) \
            and prompts.exists(saved["id"]):
        return saved
    try:
        prompts.from_text(saved["id"], saved["text"], saved["language"])
    except Exception:
        _undo(svc, kind, saved["id"], previous)
        raise
    return saved


def upload(svc: Services, prompt_id: str, data: bytes, filename: str, new: dict | None = None) -> dict:
    """The prompt's audio from a file; `new` is a prompt to create with it (taken back
    when the file is no audio). A prompt's text no longer says what it plays then, and is
    cleared (a system prompt keeps its own: the recording only stands in for it)."""
    prompts = library(svc)
    if not data:
        raise ValidationError("the audio file is empty", details={"field": "file"})
    check_size(len(data))
    obj = create(svc, "prompt", new) if new is not None else existing(svc, "prompt", prompt_id)
    try:
        prompts.from_upload(obj["id"], data, filename or "upload")
    except Exception:
        if new is not None:
            _undo(svc, "prompt", obj["id"], None)
        raise
    if obj.get("text") and not obj.get("system"):
        obj = plan(svc).save("prompt", {**obj, "text": ""})
    return obj


def check_size(length: int | None) -> None:
    """Refuse an upload too big before it is read (the appliance has little memory)."""
    if length is not None and length > MAX_UPLOAD:
        raise ValidationError(f"the file is larger than {MAX_UPLOAD // 2**20} MB: send MP3, OGG or FLAC",
                              details={"field": "file"})


def _undo(svc: Services, kind: str, obj_id: str, previous: dict | None) -> None:
    if previous is None:
        plan(svc).delete(kind, obj_id)
    else:
        plan(svc).save(kind, previous)


def delete(svc: Services, kind: str, obj_id: str) -> None:
    existing(svc, kind, obj_id)
    plan(svc).delete(kind, obj_id)
    if kind == "prompt" and svc.prompts is not None:
        svc.prompts.delete(obj_id)


def override(svc: Services, obj_id: str, value: Any) -> dict:
    """Force a time condition's outcome ("matched", "unmatched") or back to its schedule ("")."""
    if value not in OVERRIDES:
        raise ValidationError("override is \"\" (follow the schedule), matched or unmatched",
                              details={"field": "override"})
    obj = existing(svc, "timecondition", obj_id)
    obj["override"] = value
    return plan(svc).save("timecondition", obj)
