"""Which policy records a call: the most specific that says anything, unless a route or a
group forces its own over the extensions'."""
from __future__ import annotations

from types import SimpleNamespace

from pbx.recording.policy import Decision, Rule, decide, rules_for


def test_the_most_specific_word_wins() -> None:
    rules = [Rule("extension:101", "never"), Rule("ringgroup:sales", "always"), Rule("inbound:main", "on_demand")]
    assert decide(rules) == Decision("never", "extension:101")
    assert decide([Rule("extension:101", ""), *rules[1:]]) == Decision("always", "ringgroup:sales")
    assert decide([], default="always") == Decision("always", "default")
    assert decide([], default="nonsense") == Decision("on_demand", "default")


def test_a_forced_route_wins_over_an_extension_that_says_never() -> None:
    rules = [Rule("extension:101", "never"), Rule("ringgroup:sales", "on_demand"),
             Rule("inbound:main", "always", force=True)]
    assert decide(rules) == Decision("always", "inbound:main")
    # the widest forced rule is the owner's widest word
    rules[1] = Rule("ringgroup:sales", "never", force=True)
    assert decide(rules) == Decision("always", "inbound:main")
    assert decide(rules[:2]) == Decision("never", "ringgroup:sales")


class Plan:
    def __init__(self, objs: dict) -> None:
        self.objs = objs

    def get(self, kind: str, ident: str):  # noqa: ANN201
        return self.objs.get((kind, ident))


def test_rules_come_from_the_call_path_and_the_extension() -> None:
    plan = Plan({("permission", "102"): {"recording": "never"},
                 ("ringgroup", "sales"): {"recording": "always", "recording_force": False},
                 ("inbound", "main"): {"recording": "", "recording_force": False}})
    call = SimpleNamespace(path=[{"step": "route", "route": "main"}, {"step": "ringgroup", "id": "sales"}])
    rules = rules_for(call, plan, ["102"])
    assert rules == [Rule("extension:102", "never"), Rule("ringgroup:sales", "always"), Rule("inbound:main", "")]
    assert decide(rules).source == "extension:102"
    assert decide(rules_for(call, plan, ["101"])) == Decision("always", "ringgroup:sales")
