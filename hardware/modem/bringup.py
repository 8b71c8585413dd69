"""Bringing a line up: the dialect's init steps in order. A required step the modem
refuses keeps the line down with the reason; an optional one leaves it up without that
feature (degraded), and the line uses the step's fallback. A modem that does not answer
or goes away is down as before: only an answer that says no is a refusal.

Re-inits (after a reset, a replug) meet the same refusals again: each is said once per
line, and again only when it changes."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from hardware.modem.atchannel import AtChannel, AtError
from hardware.modem.dialects.base import Step, need

log = logging.getLogger(__name__)
BASIC = (need("AT", "a modem that answers"), need("ATE0", "echo off"))  # before every dialect's own


@dataclass(frozen=True)
class Refusal:
    step: Step
    result: str  # what the modem said: ERROR, +CME ERROR: 4, COMMAND NOT SUPPORT


def run_init(channel: AtChannel, steps: tuple[Step, ...], timeout: float = 3.0) -> list[Refusal]:
    """Every step once; returns the optional ones refused. Raises AtError for a required
    step refused, a timeout or a lost port."""
    refused = []
    for step in steps:
        response = channel.command(step.command, timeout=timeout, check=False)
        if response.ok:
            continue
        if not response.refused:
            raise AtError(step.command, response.final)
        if step.required:
            raise AtError(step.command, f"refused ({response.final}); the line needs it for {step.feature}")
        refused.append(Refusal(step, response.final))
    return refused


class InitLog:
    """What one line says about its init: each refusal once, a line going down once per
    reason (the supervisor retries the same failing init with backoff)."""

    def __init__(self, line: str) -> None:
        self.line = line
        self._refused: dict[str, Refusal] = {}
        self._down = ""

    def up(self, refusals: list[Refusal]) -> tuple[str, ...]:
        """The line is up: say what changed; returns the features it is without."""
        now = {r.step.command: r for r in refusals}
        for command, refusal in now.items():
            if command not in self._refused:
                step = refusal.step
                level = logging.WARNING if step.degrades else logging.INFO
                log.log(level, "line %s: %s refused (%s): %s %s; fallback: %s", self.line, command, refusal.result,
                        "up without" if step.degrades else "does without", step.feature, step.fallback)
        for command, refusal in self._refused.items():
            if command not in now:
                log.info("line %s: %s accepted now: %s back", self.line, command, refusal.step.feature)
        self._refused, self._down = now, ""
        return tuple(dict.fromkeys(r.step.feature for r in refusals if r.step.degrades))

    def down(self, reason: str) -> None:
        if reason != self._down:
            log.warning("line %s down: %s", self.line, reason)
            self._down = reason
