"""What a ring group tells the caller when nobody answers, and how outside members are
reached, with the real Flow and DialPlan over a fake B2BUA (no pjsua2)."""
from __future__ import annotations

import random
from types import SimpleNamespace as NS
from typing import Any

from pbx.dialplan.engine import DialPlan
from pbx.dialplan.flow import Flow
from pbx.numbers import normalise


class FakeB2bua:
    ring_timeout = 20

    def __init__(self, calls: dict | None = None, free_lines: list[str] | None = None) -> None:
        self.directory = NS(get=lambda n: NS(number=n) if n in ("101", "102", "103") else None, list=lambda: [])
        self.location = NS(contacts=lambda ext: [NS(ext=ext, uri=f"sip:{ext}@192.0.2.1")])
        self.calls = calls or {}
        lines = free_lines or []
        self.trunks = NS(free_lines=lambda: lines, normalised=lambda raw: normalise(raw, "RU", ""))
        self.core = NS(call_later=lambda s, fn: NS(cancel=lambda: None))
        self.hangups: list[tuple[int, str]] = []
        self.rung: list[list[str]] = []
        self.flow: Flow | None = None

    def busy(self, number: str) -> bool:
        return any(number in (c.caller, c.callee) for c in self.calls.values())

    def outside_member(self, number: str) -> Any:
        return NS(ext=number, uri=f"sip:{number}@127.0.0.1:5099")

    def plan_hangup(self, call: Any, disposition: str) -> None:
        self.hangups.append((486 if disposition == "busy" else 480, disposition))

    def ring_flow(self, call: Any, contacts: list, display: str, timeout: float) -> bool:
        self.rung.append([c.ext for c in contacts])
        return True


def group(b: FakeB2bua, members: list[str], strategy: str = "hunt") -> tuple[Flow, Any]:
    plan = DialPlan(b, store=None, prompts=None, players=None, rng=random.Random(1))  # type: ignore[arg-type]
    call = NS(id="c1", caller="+74951234567", caller_name="", start=plan.clock(), path=[])
    flow = Flow(plan, call, snapshot=None)
    flow.listener = object()  # no hold music in these tests
    flow._enter_ringgroup("desk", {"strategy": strategy, "members": members, "ring_time": 10, "total_time": 60})
    return flow, call


def test_members_all_on_calls_here_is_busy_486() -> None:
    b = FakeB2bua(calls={"other": NS(caller="101", callee="102")})
    group(b, ["101", "102"], "ringall")
    assert b.rung == [] and b.hangups == [(486, "busy")]


def test_every_phone_saying_busy_is_busy_but_one_ringing_out_is_no_answer() -> None:
    b = FakeB2bua()
    flow, _ = group(b, ["101", "102"])
    flow.rang_out({486})
    flow.rang_out({603})
    assert b.hangups == [(486, "busy")]
    b = FakeB2bua()
    flow, _ = group(b, ["101", "102"])
    flow.rang_out({603})  # 101 declined
    flow.rang_out({408})  # 102 rang its ring time unanswered
    assert b.hangups == [(480, "no_answer")]


def test_nobody_registered_is_unavailable() -> None:
    b = FakeB2bua()
    b.location = NS(contacts=lambda ext: [])
    group(b, ["101", "102"])
    assert b.hangups == [(480, "unavailable")]


def test_an_outside_member_rings_while_a_line_is_free_and_its_spelling_does_not_hide_its_call() -> None:
    b = FakeB2bua(free_lines=["gsm2"])
    flow, call = group(b, ["101", "89161234567"])
    flow.rang_out({408})
    assert b.rung == [["101"], ["89161234567"]]
    b = FakeB2bua(free_lines=[])
    group(b, ["89161234567"])
    assert b.rung == [] and b.hangups == [(480, "unavailable")]  # no free line: skipped
    b = FakeB2bua(calls={"x": NS(caller="+74950000000", callee="+79161234567")}, free_lines=["gsm2"])
    group(b, ["89161234567"])
    assert b.rung == [] and b.hangups == [(486, "busy")]  # already on a call through a line


def test_the_record_lists_the_members_reached_not_the_planned() -> None:
    b = FakeB2bua(free_lines=[])  # the outside member cannot be rung now
    flow, call = group(b, ["101", "89161234567"], "ringall")
    assert [s["members"] for s in call.path if s["step"] == "ring"] == [["101"]]
