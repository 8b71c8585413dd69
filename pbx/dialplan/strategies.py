"""Ring-group strategies as the order of steps: which members ring together, step by step.

Pure functions, so every strategy is a unit test. `members` are extension numbers in the
group's order; `available(n)` says whether a member could ring now (registered, not in a
call); `memory` is the group's state kept between calls (round robin's last answerer).
"""
from __future__ import annotations

import random as _random
from typing import Callable

STRATEGIES = ("ringall", "hunt", "memoryhunt", "roundrobin", "random", "firstavailable")


def steps(strategy: str, members: list[str], available: Callable[[str], bool], *,
          last_answered: str = "", rng: _random.Random | None = None) -> list[list[str]]:
    """The members to ring at each step; unavailable members are left out (they would
    refuse at once: a step for them would only waste the caller's time)."""
    ready = [m for m in members if available(m)]
    if strategy == "ringall":
        return [ready] if ready else []
    if strategy == "hunt":
        return [[m] for m in ready]
    if strategy == "memoryhunt":  # 1, then 1+2, then 1+2+3
        return [ready[:i] for i in range(1, len(ready) + 1)]
    if strategy == "roundrobin":  # start after whoever answered last
        if last_answered in members:
            cut = members.index(last_answered) + 1
            rotated = members[cut:] + members[:cut]
            ready = [m for m in rotated if available(m)]
        return [[m] for m in ready]
    if strategy == "random":
        shuffled = list(ready)
        (rng or _random.Random()).shuffle(shuffled)
        return [[m] for m in shuffled]
    if strategy == "firstavailable":  # only the first member who is free
        return [ready[:1]] if ready else []
    raise ValueError(f"unknown strategy {strategy!r}")
