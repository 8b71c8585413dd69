"""The fields of each kind of dial plan object: types, ranges, defaults, one object at a time.

Checks that need the rest of the plan (does the destination exist, is the number free,
is there a loop) live in `checks.py`; this module only answers "is this one object well
formed", so the web admin can name the bad field before anything is read or locked.
Every error is a ValidationError whose details name the field as a dotted path.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable

from pbx.dialplan.patterns import DialPattern
from pbx.dialplan.schedule import Schedule, ScheduleError
from pbx.errors import ValidationError
from pbx.recording.policy import POLICIES
from pbx.store.trunks import NAME as TRUNK_NAME

KINDS = ("prompt", "ivr", "ringgroup", "timecondition", "announcement", "inbound", "outbound", "permission")
NUMBERED = ("ivr", "ringgroup", "timecondition", "announcement")  # may have a `number`
TARGETS = ("extension", "ringgroup", "ivr", "timecondition", "announcement")  # `kind:` of a destination
IVR_ONLY = ("ivr:return", "ivr:repeat")
ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
EXTENSION = re.compile(r"^\d{2,6}$")
OUTSIDE = re.compile(r"^\+?\d{7,15}$")
CALLER_NUMBER = re.compile(r"^\+?\d{2,15}$")
CALLER_PREFIX = re.compile(r"^\+?\d{1,15}$")
FEATURE_CODE = re.compile(r"^\*\d{1,5}$")
PREPEND = re.compile(r"^\+?[0-9*#]{0,20}$")
KEYS = frozenset("0123456789*#")
CLASSES = ("internal", "local", "national", "mobile", "international")
DEFAULT_ALLOW = ("internal", "local", "national", "mobile")
STRATEGIES = ("ringall", "hunt", "memoryhunt", "roundrobin", "random", "firstavailable")
CALLERS = ("any", "number", "prefix", "anonymous", "list")
TIERS = ("", "vip", "normal", "blocked", "known", "unknown")  # "": any caller; known: any contact
SYSTEM_PREFIX = "system-"

REQUIRED = object()
SAME_AS_ID = object()
Check = Callable[[Any, str], Any]


def invalid(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field}: {problem}", details={"field": field})


def text(max_len: int, min_len: int = 0, strip: bool = False) -> Check:
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise invalid(field, "a string")
        value = value.strip() if strip else value
        if not min_len <= len(value) <= max_len:
            raise invalid(field, f"{min_len} to {max_len} characters")
        return value
    return check


def matching(pattern: re.Pattern[str], hint: str, empty: bool = False) -> Check:
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str) or not (pattern.match(value) or (empty and value == "")):
            raise invalid(field, hint + (" (or empty)" if empty else ""))
        return value
    return check


def choice(*options: str) -> Check:
    def check(value: Any, field: str) -> str:
        if value not in options:
            raise invalid(field, "one of " + ", ".join(repr(o) for o in options))
        return value
    return check


def integer(lo: int, hi: int) -> Check:
    def check(value: Any, field: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise invalid(field, f"a whole number from {lo} to {hi}")
        return value
    return check


def seconds(lo: float, hi: float) -> Check:
    def check(value: Any, field: str) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            raise invalid(field, f"seconds from {lo} to {hi}")
        return float(value)
    return check


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(field, "true or false")
    return value


def destination(value: Any, field: str, in_keys: bool = False) -> str:
    """`kind:id` or `hangup` (syntax only; whether it exists is the plan's question)."""
    hint = "a destination such as extension:101, ringgroup:sales, ivr:main or hangup"
    if not isinstance(value, str) or not value:
        raise invalid(field, hint)
    if value == "hangup":
        return value
    if value in IVR_ONLY:
        if in_keys:
            return value
        raise invalid(field, f"{value} is allowed in an IVR's keys only")
    kind, sep, target = value.partition(":")
    if not sep or kind not in TARGETS:
        raise invalid(field, f"{value!r}: " + hint)
    if not (EXTENSION if kind == "extension" else ID).match(target):
        raise invalid(field, f"{value!r}: " + ("an extension number has 2 to 6 digits" if kind == "extension"
                                               else "an id is a-z, 0-9, '-' or '_', at most 32"))
    return value


def listing(item: Check, hint: str, min_items: int = 0, max_items: int = 100) -> Check:
    """A list of distinct items, each checked (field `name.index`)."""
    def check(value: Any, field: str) -> list:
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise invalid(field, f"a list of {min_items} to {max_items} {hint}")
        out = [item(v, f"{field}.{i}") for i, v in enumerate(value)]
        for i, v in enumerate(out):
            if v in out[:i]:
                raise invalid(f"{field}.{i}", f"{v} is listed twice")
        return out
    return check


def keys(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise invalid(field, 'a map of keys to destinations, e.g. {"1": "extension:101"}')
    for key, dest in value.items():
        if key not in KEYS:
            raise invalid(f"{field}.{key}", "keys are 0-9, * and #")
        destination(dest, f"{field}.{key}", in_keys=True)
    return dict(value)


def pattern(value: Any, field: str) -> str:
    try:
        return DialPattern.parse(value).text
    except ValueError as exc:
        raise invalid(field, str(exc)) from None


def anything(value: Any, field: str) -> Any:
    return value  # checked with the fields it depends on (see CROSS)


name = text(64, 1, strip=True)
number = matching(EXTENSION, "2 to 6 digits", empty=True)
prompt = matching(ID, "a prompt id")
prompt_or_none = matching(ID, "a prompt id", empty=True)
trunk = matching(TRUNK_NAME, "a trunk name such as gsm1")
member = matching(re.compile(r"^(\*|\d{2,6}|\+?\d{7,15})$"),
                  "an extension number, an outside number (+79161234567) or * (every extension)")

# A call's recording policy ("" : the more general object's, pbx/recording/policy.py); a
# route's or group's forced policy wins over the extensions' own.
RECORDING: dict[str, tuple[Check, Any]] = {
    "recording": (choice("", *POLICIES), ""), "recording_force": (boolean, False),
}

# kind -> field -> (check, default); `id` is checked by check_id.
FIELDS: dict[str, dict[str, tuple[Check, Any]]] = {
    "prompt": {
        "name": (name, SAME_AS_ID), "language": (choice("en", "ru"), "en"),
        "text": (text(2000), ""), "system": (boolean, False),
    },
    "ivr": {
        "name": (name, SAME_AS_ID), "number": (number, ""), "prompt": (prompt, REQUIRED), "keys": (keys, {}),
        "direct_dial": (boolean, False), "first_digit_timeout": (seconds(1, 60), 5.0),
        "inter_digit_timeout": (seconds(0.5, 10), 2.0), "retries": (integer(1, 10), 3),
        "invalid_prompt": (prompt_or_none, "system-invalid-en"), "timeout_prompt": (prompt_or_none, ""),
        "invalid_destination": (destination, "hangup"), "timeout_destination": (destination, "hangup"),
    },
    "ringgroup": {
        "name": (name, SAME_AS_ID), "number": (number, ""), "strategy": (choice(*STRATEGIES), "ringall"),
        "members": (listing(member, "members", min_items=1), REQUIRED), "ring_time": (integer(5, 300), 20),
        "total_time": (integer(5, 3600), 60), "name_prefix": (text(16), ""), "no_answer": (destination, "hangup"),
        **RECORDING,
    },
    "timecondition": {
        "name": (name, SAME_AS_ID), "number": (number, ""), "timezone": (anything, ""),
        "schedule": (anything, []), "holidays": (anything, []), "matched": (destination, REQUIRED),
        "unmatched": (destination, REQUIRED), "override": (choice("", "matched", "unmatched"), ""),
        "feature_code": (matching(FEATURE_CODE, "* and 1 to 5 digits, e.g. *27", empty=True), ""),
    },
    "announcement": {
        "name": (name, SAME_AS_ID), "number": (number, ""), "prompt": (prompt, REQUIRED),
        "then": (destination, "hangup"),
    },
    "inbound": {
        "name": (name, SAME_AS_ID), "trunk": (matching(TRUNK_NAME, "a trunk name such as gsm1", empty=True), ""),
        "caller": (choice(*CALLERS), "any"), "value": (anything, ""), "destination": (destination, REQUIRED),
        "position": (integer(0, 9999), 100), "tier": (choice(*TIERS), ""),
        "responsible_first": (integer(0, 300), 0),  # seconds the contact's own manager rings first
        **RECORDING,
    },
    "outbound": {
        "name": (name, SAME_AS_ID), "patterns": (listing(pattern, "patterns", min_items=1), REQUIRED),
        "prepend": (matching(PREPEND, "digits, * or # to put before the number, maybe after a +"), ""),
        "trunks": (listing(trunk, "trunk names (empty: every line)"), []), "position": (integer(0, 9999), 100),
    },
    "permission": {  # an extension's own rules: where it may call, whether its calls are recorded
        "allow": (listing(choice(*CLASSES), "number classes"), list(DEFAULT_ALLOW)),
        "recording": RECORDING["recording"],
    },
}


def check_kind(kind: Any) -> str:
    if kind not in FIELDS:
        raise ValidationError(f"kind: one of {', '.join(KINDS)}", details={"field": "kind"})
    return kind


def check_id(kind: str, value: Any) -> str:
    if kind == "permission":
        return matching(EXTENSION, "the extension's number (2 to 6 digits)")(value, "id")
    value = matching(ID, "1 to 32 of a-z, 0-9, '-' and '_', starting with a letter or digit")(value, "id")
    if kind == "prompt" and value.startswith(SYSTEM_PREFIX):
        raise invalid("id", f"ids starting with {SYSTEM_PREFIX} belong to the built-in prompts")
    if kind == "ivr" and f"ivr:{value}" in IVR_ONLY:
        raise invalid("id", f"ivr:{value} is reserved for IVR keys")
    return value


def _prompt(rec: dict) -> None:
    if rec["system"]:
        raise invalid("system", "only the built-in prompts are system prompts")


def _ringgroup(rec: dict) -> None:
    if rec["total_time"] < rec["ring_time"]:
        raise invalid("total_time", "at least ring_time")


def _timecondition(rec: dict) -> None:
    if not isinstance(rec["timezone"], str):
        raise invalid("timezone", "an IANA time zone such as Europe/Moscow, or empty for the appliance's")
    try:
        Schedule.parse(rec["schedule"], rec["holidays"], rec["timezone"])
    except ScheduleError as exc:
        raise ValidationError(str(exc), details={"field": exc.field}) from None


def _inbound(rec: dict) -> None:
    caller, value = rec["caller"], rec["value"]
    if caller in ("any", "anonymous"):
        if value != "":
            raise invalid("value", f"a {caller} route takes no value (leave it empty)")
    elif caller == "list":
        rec["value"] = listing(matching(CALLER_NUMBER, "a caller number such as +79161234567"),
                               "caller numbers", min_items=1, max_items=1000)(value, "value")
    else:
        check = CALLER_NUMBER if caller == "number" else CALLER_PREFIX
        matching(check, "a caller number such as +79161234567" if caller == "number"
                 else "the digits a caller's number starts with, such as +7495")(value, "value")


CROSS: dict[str, Callable[[dict], None]] = {
    "prompt": _prompt, "ringgroup": _ringgroup, "timecondition": _timecondition, "inbound": _inbound,
}


def normalise(kind: str, obj: Any) -> dict:
    """The object as it will be stored: checked, defaults filled, unknown fields refused."""
    check_kind(kind)
    if not isinstance(obj, dict):
        raise ValidationError(f"a {kind} is a JSON object", details={"field": ""})
    spec = FIELDS[kind]
    unknown = sorted(set(obj) - set(spec) - {"id"}, key=str)
    if unknown:
        raise invalid(str(unknown[0]), f"no field of a {kind} (fields: id, {', '.join(spec)})")
    record: dict[str, Any] = {"id": check_id(kind, obj.get("id"))}
    for field, (check, default) in spec.items():
        if field in obj:
            record[field] = check(obj[field], field)
        elif default is REQUIRED:
            raise invalid(field, "required")
        else:
            record[field] = record["id"] if default is SAME_AS_ID else copy.deepcopy(default)
    if kind in CROSS:
        CROSS[kind](record)
    return record


def with_defaults(kind: str, stored: dict) -> dict:
    """A record as read from the file, missing optional fields filled (an older file)."""
    record = dict(stored)
    for field, (_check, default) in FIELDS[kind].items():
        if field not in record and default is not REQUIRED:
            record[field] = record.get("id", "") if default is SAME_AS_ID else copy.deepcopy(default)
    return record
