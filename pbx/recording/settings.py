"""The owner's recording settings, one list for `pbx config set`, the REST bridge
(`/api/v1/recording-settings`) and the Recordings page: each with its default, what it
may be, and what it means. Stored as text, as `pbx config set` writes them; a running
daemon applies a change within 5 s (the recording-guard thread re-reads them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pbx.errors import ValidationError


@dataclass(frozen=True)
class Field:
    default: str
    help: str
    choices: tuple[str, ...] = ()
    below: float | None = None  # numbers: 0 or more, and under this if set

    def check(self, key: str, value: Any) -> str:
        text = str(value).strip()
        if self.choices:
            if text not in self.choices:
                raise ValidationError(f"{key}: one of {', '.join(self.choices)}", details={"field": key})
            return text
        try:
            number = float(text)
            if number < 0 or (self.below is not None and number >= self.below) or number != number:
                raise ValueError
        except ValueError:
            raise ValidationError(f"{key}: a number, 0 or more" + (f" and under {self.below:g}" if self.below else ""),
                                  details={"field": key}) from None
        return text

    def public(self, text: str) -> Any:
        return text if self.choices else float(text)


FIELDS: dict[str, Field] = {
    "recording_default": Field("on_demand", "for calls no extension, group or route decides (on_demand: *1)",
                               ("always", "on_demand", "never")),
    "recording_format": Field("ogg", "what recordings are compressed to after the call (ogg: Vorbis, read by sox)",
                              ("ogg", "opus", "mp3")),
    "recording_channels": Field("1", "both parties mixed (1), or each in its own channel (2)", ("1", "2")),
    "recording_announcement": Field("off", 'the caller hears "this call may be recorded" before a call that may '
                                           "be recorded is bridged", ("off", "en", "ru")),
    "recording_keep_days": Field("90", "recordings older than this are deleted, oldest first (0: kept)"),
    "recording_quota_mb": Field("0", "recordings beyond this total are deleted, oldest first (0: no quota)"),
    "recording_min_free_pct": Field("10", "new recordings stop while the data partition has less free space",
                                    below=100),
}


def current(settings: Any) -> dict[str, Any]:
    """Every recording setting as it is now (a bad stored value shows as its default)."""
    out = {}
    for key, field in FIELDS.items():
        try:
            out[key] = field.public(field.check(key, settings.get(key, field.default)))
        except ValidationError:
            out[key] = field.public(field.default)
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
