"""What a fresh appliance's plan holds, and the built-in prompts every plan holds.

The defaults reproduce the behaviour before there was a dial plan: every call from a
line rings every extension, and `9` then a number goes out on the first free line. The
system prompts are owned by the code (their text may improve with a release), so they
are never taken from the file and cannot be changed or deleted.
"""
from __future__ import annotations

import copy

from pbx.dialplan import schema

_PROMPT_TEXT = {
    "hold": ("Hold music", "Please hold, your call is important to us.",
             "Пожалуйста, оставайтесь на линии."),
    "invalid": ("Invalid choice", "That is not a valid choice. Please try again.",
                "Неверный выбор. Попробуйте ещё раз."),
    "closed": ("Closed", "We are closed now. Please call again during our business hours.",
               "Сейчас мы не работаем. Пожалуйста, позвоните в рабочее время."),
    "goodbye": ("Goodbye", "Thank you for calling. Goodbye.", "Спасибо за звонок. До свидания."),
    "blocked": ("Blocked caller", "Calls from this number are not accepted. Goodbye.",
                "Звонки с этого номера не принимаются. До свидания."),
    "recorded": ("Recording notice", "This call may be recorded.", "Этот звонок может быть записан."),
}

SYSTEM_PROMPTS: dict[str, dict] = {
    f"{schema.SYSTEM_PREFIX}{what}-{language}": {
        "id": f"{schema.SYSTEM_PREFIX}{what}-{language}", "name": f"{title} ({language})",
        "language": language, "text": en if language == "en" else ru, "system": True,
    }
    for what, (title, en, ru) in _PROMPT_TEXT.items() for language in ("en", "ru")
}

# Positions 1000: after the routes an owner adds (100 unless given), so they stay the fallback.
_FRESH = (
    ("ringgroup", {"id": "everyone", "name": "Everyone", "strategy": "ringall", "members": ["*"]}),
    ("inbound", {"id": "default", "name": "Every call to everyone", "trunk": "", "caller": "any",
                 "destination": "ringgroup:everyone", "position": 1000}),
    ("outbound", {"id": "default", "name": "9 and the number, on any line", "patterns": ["9|."],
                  "trunks": [], "position": 1000}),
)


def system_prompts() -> dict[str, dict]:
    return copy.deepcopy(SYSTEM_PROMPTS)


def fresh_objects() -> list[tuple[str, dict]]:
    """(kind, record) of a fresh install, every field filled."""
    return [(kind, schema.normalise(kind, obj)) for kind, obj in _FRESH]
