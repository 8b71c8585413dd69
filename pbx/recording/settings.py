"""The owner's recording settings, one list for `pbx config set`, the REST bridge
(`/api/v1/recording-settings`) and the Recordings page: each with its default, what it
may be, and what it means. Stored as text, as `pbx config set` writes them; a running
daemon applies a change within 5 s (the recording-guard thread re-reads them)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pbx.errors import ValidationError


@dataclass(frozen=True)
class Field:
    default: str
    help: str
    choices: tuple[str, ...] = ()
    most: float = 0.0  # numbers: from 0 to this

    def check(self, key: str, value: Any) -> str:
        """The value as stored (trimmed text), or ValidationError naming the field."""
        text = str(value).strip() if not isinstance(value, bool) and value is not None else ""
        if self.choices:
            if text not in self.choices:
                raise ValidationError(f"{key}: one of {', '.join(self.choices)}", details={"field": key})
            return text
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and 0 <= number <= self.most):
            raise ValidationError(f"{key}: a number from 0 to {self.most:g}", details={"field": key})
        return text

    def public(self, text: str) -> Any:
        return text if self.choices else float(text)


FIELDS: dict[str, Field] = {
    "recording_default": Field("on_demand", "for calls no extension, group or route decides (on_demand: *1)",
                               ("always", "on_demand", "never")),
    "recording_format": Field("ogg", "what recordings are compressed to after the call (ogg: Vorbis, read by sox)",
                              ("ogg", "opus", "mp3")),
    "recording_channels": Field("1", "1: both parties mixed; 2: each in its own channel", ("1", "2")),
    "recording_announcement": Field("off", 'the caller hears "this call may be recorded" before a call that may '
                                           "be recorded is bridged", ("off", "en", "ru")),
    "recording_keep_days": Field("90", "recordings older than this are deleted, oldest first (0: kept)",
                                 most=36500),
    "recording_quota_mb": Field("0", "recordings beyond this total are deleted, oldest first (0: no quota)",
                                most=10_000_000),
    "recording_min_free_pct": Field("10", "new recordings stop while the data partition has less free space",
                                    most=90),
}


def current(settings: Any, as_text: bool = False) -> dict[str, Any]:
    """Every recording setting as it is now (a bad stored value shows as its default):
    numbers as numbers, or everything as the text stored (for a form)."""
    out = {}
    for key, field in FIELDS.items():
        try:
            text = field.check(key, settings.get(key, field.default))
        except ValidationError:
            text = field.default
        out[key] = text if as_text else field.public(text)
    return out


def update(settings: Any, changes: Any) -> dict[str, Any]:
    """Change some settings: all are checked before any is written (a bad one changes nothing)."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("expected a JSON object with one or more of: " + ", ".join(FIELDS))
    unknown = [key for key in changes if key not in FIELDS]
    if unknown:
        raise ValidationError(f"unknown setting {unknown[0]}; known: {', '.join(FIELDS)}",
                              details={"field": unknown[0]})
    checked = {key: FIELDS[key].check(key, value) for key, value in changes.items()}
    for key, text in checked.items():
        settings.set(key, text)
    return current(settings)


def describe(changes: dict[str, Any]) -> str:
    """A change as the audit log keeps it."""
    return ", ".join(f"{key}={str(value).strip()}" for key, value in changes.items())
