"""An immutable view of the plan for the call path, with its lookups prepared.

The core reads the plan on every call from its own thread while the web admin saves
from another process; a frozen snapshot built once per change of the file means a call
sees one consistent plan from start to end and never parses a pattern or a schedule.
Records are read-only mappings (lists become tuples), so nothing can edit the plan
behind the store's back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from pbx.dialplan.patterns import DialPattern
from pbx.dialplan.schedule import Schedule
from pbx.dialplan.schema import DEFAULT_ALLOW, NUMBERED
from pbx.numbers import ANONYMOUS

log = logging.getLogger(__name__)
Record = Mapping[str, Any]


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, editable copy of a frozen record (dicts and lists again)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _order(rec: Record) -> tuple[int, str]:
    return rec.get("position", 0), rec["id"]


def _patterns(rec: dict) -> tuple[DialPattern, ...]:
    out = []
    for text in rec.get("patterns", ()):
        try:
            out.append(DialPattern.parse(text))
        except ValueError as exc:  # only a hand-edited file gets here: skip, keep routing
            log.warning("outbound:%s: %s", rec["id"], exc)
    return tuple(out)


def _schedule(rec: dict) -> Schedule:
    try:
        return Schedule.parse(rec.get("schedule", []), rec.get("holidays", []), rec.get("timezone", ""))
    except ValueError as exc:  # a hand-edited file: never open rather than crash the core
        log.warning("timecondition:%s: %s", rec["id"], exc)
        return Schedule((), (), None)


def _caller_matches(route: Record, caller: str) -> bool:
    how, value = route["caller"], route["value"]
    if how == "any":
        return True
    if how == "anonymous":
        return caller == ANONYMOUS
    if how == "number":
        return caller == value
    if how == "prefix":
        return caller != ANONYMOUS and caller.startswith(value)
    return caller in value  # list


def _tier_matches(route: Record, tier: str) -> bool:
    wanted = route.get("tier", "")
    return wanted in ("", tier) or (wanted == "known" and tier != "unknown")


@dataclass(frozen=True)
class PlanSnapshot:
    _objects: Mapping[str, Mapping[str, Record]]
    _sorted: Mapping[str, tuple[Record, ...]]
    _numbers: Mapping[str, str]
    _feature_codes: Mapping[str, str]
    _patterns: Mapping[str, tuple[DialPattern, ...]]
    _schedules: Mapping[str, Schedule]

    @classmethod
    def build(cls, plan: dict[str, dict[str, dict]]) -> PlanSnapshot:
        objects = {kind: MappingProxyType({oid: freeze(rec) for oid, rec in objs.items()})
                   for kind, objs in plan.items()}
        ordered = {kind: tuple(sorted(objs.values(), key=_order)) for kind, objs in objects.items()}
        numbers = {rec["number"]: f"{kind}:{rec['id']}" for kind in NUMBERED
                   for rec in ordered.get(kind, ()) if rec.get("number")}
        codes = {rec["feature_code"]: f"timecondition:{rec['id']}"
                 for rec in ordered.get("timecondition", ()) if rec.get("feature_code")}
        return cls(MappingProxyType(objects), MappingProxyType(ordered), MappingProxyType(numbers),
                   MappingProxyType(codes),
                   MappingProxyType({oid: _patterns(rec) for oid, rec in plan.get("outbound", {}).items()}),
                   MappingProxyType({oid: _schedule(rec) for oid, rec in plan.get("timecondition", {}).items()}))

    def get(self, kind: str, id: str) -> Record | None:
        """The record, or None (also for a kind this version does not know)."""
        return self._objects.get(kind, {}).get(id)

    def objects(self, kind: str) -> tuple[Record, ...]:
        """Every record of a kind, by position then id."""
        return self._sorted.get(kind, ())

    def by_number(self, number: str) -> str | None:
        """"kind:id" of the plan object an extension reaches by dialling `number`."""
        return self._numbers.get(number)

    def by_feature_code(self, code: str) -> str | None:
        """"timecondition:id" whose override `code` (e.g. *27) toggles."""
        return self._feature_codes.get(code)

    def inbound_routes(self) -> tuple[Record, ...]:
        return self.objects("inbound")

    def outbound_routes(self) -> tuple[Record, ...]:
        return self.objects("outbound")

    def match_inbound(self, trunk: str, caller: str, tier: str = "unknown") -> Record | None:
        """The first inbound route (by position, then id) for a call on `trunk` from
        `caller` (E.164, digits, or pbx.numbers.ANONYMOUS) whose contact has `tier`
        (vip, normal, blocked; unknown when the number is no contact's)."""
        for route in self.inbound_routes():
            if route["trunk"] in ("", trunk) and _caller_matches(route, caller) and _tier_matches(route, tier):
                return route
        return None

    def match_outbound(self, dialled: str) -> tuple[Record, str] | None:
        """The first outbound route whose pattern matches all of `dialled`, and the
        number to send its lines (the prefix stripped, `prepend` put before it)."""
        for route in self.outbound_routes():
            for pattern in self._patterns.get(route["id"], ()):
                rest = pattern.match(dialled)
                if rest is not None and route["prepend"] + rest:
                    return route, route["prepend"] + rest
        return None

    def permission(self, ext: str) -> frozenset[str]:
        """The number classes extension `ext` may call; `emergency` always."""
        rec = self.get("permission", ext)
        return frozenset(rec["allow"] if rec is not None else DEFAULT_ALLOW) | {"emergency"}

    def schedule(self, timecondition_id: str) -> Schedule | None:
        """The parsed schedule of a time condition (its override is the caller's to apply)."""
        return self._schedules.get(timecondition_id)
