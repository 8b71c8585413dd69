"""Ring-group strategies: who rings at each step, with member 102 busy (in a call)."""
from __future__ import annotations

import random

import pytest

from pbx.dialplan.strategies import STRATEGIES, steps

MEMBERS = ["101", "102", "103"]


def free(m: str) -> bool:
    return m != "102"


@pytest.mark.parametrize("strategy, expected", [
    ("ringall", [["101", "103"]]),
    ("hunt", [["101"], ["103"]]),
    ("memoryhunt", [["101"], ["101", "103"]]),
    ("firstavailable", [["101"]]),
])
def test_each_strategy_skips_the_busy_member(strategy: str, expected: list[list[str]]) -> None:
    assert steps(strategy, MEMBERS, free) == expected


def test_round_robin_starts_after_who_answered_last() -> None:
    assert steps("roundrobin", MEMBERS, lambda m: True, last_answered="101") == [["102"], ["103"], ["101"]]
    assert steps("roundrobin", MEMBERS, free, last_answered="103") == [["101"], ["103"]]
    assert steps("roundrobin", MEMBERS, free) == [["101"], ["103"]]  # nobody yet: the group's order


def test_random_rings_each_free_member_once_in_some_order() -> None:
    orders = {tuple(m for (m,) in steps("random", MEMBERS, lambda m: True, rng=random.Random(seed)))
              for seed in range(20)}
    assert all(sorted(o) == MEMBERS for o in orders)
    assert len(orders) > 1


def test_nobody_free_means_no_steps() -> None:
    for strategy in STRATEGIES:
        assert steps(strategy, MEMBERS, lambda m: False) == []
    with pytest.raises(ValueError):
        steps("loudest", MEMBERS, free)

