"""Which calls are recorded: always, on demand (*1, the REST bridge) or never.

The owner sets a policy on an extension (its `permission` object in the dial plan), an
inbound route and a ring group, and a default for the appliance (`recording_default`).
The most specific one that says anything wins: extension, then ring group, then route,
then the default. A route or group may force its "always" or "never" over everything
more specific (`recording_force`): "every call on the sales line is recorded", whatever
a sales phone says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

ALWAYS, ON_DEMAND, NEVER = "always", "on_demand", "never"
POLICIES = (ALWAYS, ON_DEMAND, NEVER)
DEFAULT = ON_DEMAND


@dataclass(frozen=True)
class Decision:
    mode: str  # always | on_demand | never
    source: str  # what decided: "extension:101", "ringgroup:sales", "inbound:default", "default"

    def public(self) -> dict[str, str]:
        return {"mode": self.mode, "source": self.source}


@dataclass(frozen=True)
class Rule:
    """One object's say: its policy ("" = nothing to say) and whether it is forced."""

    source: str
    policy: str = ""
    force: bool = False


def decide(rules: Iterable[Rule], default: str = DEFAULT) -> Decision:
    """rules: most specific first (extension, ring group, inbound route)."""
    rules = [r for r in rules if r.policy in POLICIES]
    forced = [r for r in rules if r.force]
    # the least specific forced rule is the owner's widest word: it wins over the rest
    for rule in (forced[-1:] or rules[:1]):
        return Decision(rule.policy, rule.source)
    return Decision(default if default in POLICIES else DEFAULT, "default")


def rules_for(call: Any, snapshot: Any, extensions: list[str]) -> list[Rule]:
    """The call's rules from the dial plan it went through: the answering (or calling)
    extensions' permission objects, the last ring group and the inbound route in its path."""
    rules: list[Rule] = []
    for ext in extensions:
        obj = snapshot.get("permission", ext) if snapshot is not None and ext else None
        if obj is not None and obj.get("recording"):
            rules.append(Rule(f"extension:{ext}", obj["recording"]))
            break
    path = list(getattr(call, "path", []) or [])
    for kind, key in (("ringgroup", "id"), ("inbound", "route")):
        step_kind = "ringgroup" if kind == "ringgroup" else "route"
        ident = next((s.get(key) for s in reversed(path) if s.get("step") == step_kind and s.get(key)), None)
        obj = snapshot.get(kind, ident) if snapshot is not None and ident else None
        if obj is not None:
            rules.append(Rule(f"{kind}:{ident}", obj.get("recording", ""), bool(obj.get("recording_force"))))
    return rules
