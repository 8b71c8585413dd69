"""Dial plan objects to flat HTML form fields and back, for every kind from one table.

Forms speak strings: lists are typed comma separated, an IVR's keys are the inputs
`keys.1` ... `keys.#`, schedule rows `schedule.0.days` .... The input names are the
store's dotted field paths, so the field a ValidationError names is the input to mark.
A form that cannot be read (a number that is no number) raises the same error the
store would, naming its field; nothing reaches the store then.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pbx.errors import ValidationError

KEYS = "123456789*0#"  # the keypad's order
SCHEDULE_PARTS = ("days", "from", "to")
CLASSES = ("internal", "local", "national", "mobile", "international")

# kind -> (field, how the form holds it). "str" always sent (may be ""), "raw" too but not
# stripped (a name prefix ends in a space), "opt" left out when blank (the store's default
# or no value), "int"/"float" left out when blank.
SPECS: dict[str, tuple[tuple[str, str], ...]] = {
    "inbound": (("id", "str"), ("name", "opt"), ("trunk", "str"), ("caller", "str"), ("value", "value"),
                ("tier", "opt"), ("destination", "str"), ("responsible_first", "int"), ("position", "int"),
                ("recording", "opt"), ("recording_force", "bool")),
    "outbound": (("id", "str"), ("name", "opt"), ("patterns", "list"), ("prepend", "str"), ("trunks", "list"),
                 ("position", "int")),
    "permission": (("id", "str"), ("allow", "checks"), ("recording", "opt")),
    "ivr": (("id", "str"), ("name", "opt"), ("number", "opt"), ("prompt", "str"), ("keys", "keys"),
            ("direct_dial", "bool"), ("first_digit_timeout", "float"), ("inter_digit_timeout", "float"),
            ("retries", "int"), ("invalid_prompt", "str"), ("timeout_prompt", "str"),
            ("invalid_destination", "str"), ("timeout_destination", "str")),
    "ringgroup": (("id", "str"), ("name", "opt"), ("number", "opt"), ("strategy", "str"), ("members", "list"),
                  ("ring_time", "int"), ("total_time", "int"), ("name_prefix", "raw"), ("no_answer", "str"),
                  ("recording", "opt"), ("recording_force", "bool")),
    "timecondition": (("id", "str"), ("name", "opt"), ("number", "opt"), ("timezone", "str"),
                      ("schedule", "schedule"), ("holidays", "list"), ("matched", "str"), ("unmatched", "str"),
                      ("feature_code", "opt")),
    "announcement": (("id", "str"), ("name", "opt"), ("number", "opt"), ("prompt", "str"), ("then", "str")),
    "prompt": (("id", "str"), ("name", "opt"), ("language", "str"), ("text", "opt")),
}


def _split(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text) if part]


def _number(form: Mapping[str, str], field: str, cast: type) -> Any:
    text = form.get(field, "").strip()
    try:
        return cast(text)
    except ValueError:
        raise ValidationError(f"{field} must be a number, not {text!r}", details={"field": field}) from None


def _schedule(form: Mapping[str, str]) -> list[dict]:
    rows = []
    for i in range(schedule_rows(form)):
        row = {part: form.get(f"schedule.{i}.{part}", "").strip() for part in SCHEDULE_PARTS}
        if any(row.values()):
            rows.append(row)
    return rows


def schedule_rows(form: Mapping[str, str]) -> int:
    """How many schedule rows the form holds (the highest index typed, plus one)."""
    indexes = [int(m.group(1)) for name in form if (m := re.fullmatch(r"schedule\.(\d+)\.\w+", name))]
    return max(indexes, default=-1) + 1


def from_form(kind: str, form: Any, previous: dict | None = None) -> dict:
    """The object a submitted form describes. Fields the form has no input for are kept
    from the object edited (a time condition's override, fields added later)."""
    spec = SPECS[kind]
    obj: dict[str, Any] = {k: v for k, v in (previous or {}).items() if k not in dict(spec)}
    for field, how in spec:
        text = form.get(field, "").strip()
        if how == "str":
            obj[field] = text
        elif how == "raw":
            obj[field] = form.get(field, "")
        elif how == "opt" and text:
            obj[field] = text
        elif how in ("int", "float") and text:
            obj[field] = _number(form, field, int if how == "int" else float)
        elif how == "bool":
            obj[field] = bool(form.get(field))
        elif how == "list":
            obj[field] = _split(text)
        elif how == "checks":
            obj[field] = [c for c in form.getlist(field) if c]
        elif how == "keys":
            obj[field] = {k: form.get(f"keys.{k}", "").strip() for k in KEYS if form.get(f"keys.{k}", "").strip()}
        elif how == "schedule":
            obj[field] = _schedule(form)
        elif how == "value":
            obj[field] = _split(text) if form.get("caller") == "list" else text
    return obj


def to_form(kind: str, obj: dict) -> dict[str, Any]:
    """The form fields showing an object (the inverse of from_form)."""
    form: dict[str, Any] = {"original": obj.get("id", "")}
    for field, how in SPECS[kind]:
        value = obj.get(field)
        if value is None:
            continue
        if how == "keys":
            form.update({f"keys.{k}": dest for k, dest in value.items()})
        elif how == "schedule":
            for i, row in enumerate(value):
                form.update({f"schedule.{i}.{part}": row.get(part, "") for part in SCHEDULE_PARTS})
        elif how == "bool":
            form[field] = "on" if value else ""
        elif how == "checks":
            form[field] = list(value)
        elif isinstance(value, list):
            form[field] = ", ".join(str(v) for v in value)
        else:
            form[field] = str(value)
    return form


def marked(name: str, field: str | None) -> bool:
    """Whether the input `name` is (part of) the field an error names: `members` for
    members.1, every key input for `keys`."""
    if not field:
        return False
    return name == field or field.startswith(name + ".") or name.startswith(field + ".")
