"""Checks of the whole plan: references that point somewhere, free numbers, no loops.

Run on the plan as it would be after a save, so a save that breaks anything anywhere is
refused before the file is touched. Problems are reported on the saved object when it
takes part (the owner is editing it); `details["object"]` names the object either way.
The loop check follows only the edges a call takes by itself (timeouts, invalid input,
time condition outcomes, an announcement's end, a ring group nobody answers): a caller
bouncing between menus by pressing keys is fine, a call circling with nobody there is not.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from pbx.dialplan.schema import IVR_ONLY, NUMBERED
from pbx.errors import ValidationError

Plan = dict[str, dict[str, dict]]  # kind -> id -> record

DESTINATIONS = {
    "ivr": ("invalid_destination", "timeout_destination"),
    "ringgroup": ("no_answer",),
    "timecondition": ("matched", "unmatched"),
    "announcement": ("then",),
    "inbound": ("destination",),
}
AUTOMATIC = {kind: fields for kind, fields in DESTINATIONS.items() if kind != "inbound"}
PROMPTS = {"ivr": ("prompt", "invalid_prompt", "timeout_prompt"), "announcement": ("prompt",)}


def problem(key: str, field: str, text: str, **details: object) -> ValidationError:
    return ValidationError(f"{key} {field}: {text}", details={"field": field, "object": key, **details})


def destinations(kind: str, rec: dict) -> Iterator[tuple[str, str]]:
    """(field, destination) of every destination the object holds, keys included."""
    if kind == "ivr":
        for key, dest in sorted(rec.get("keys", {}).items()):
            yield f"keys.{key}", dest
    for field in DESTINATIONS.get(kind, ()):
        yield field, rec.get(field, "hangup")


def references(kind: str, rec: dict) -> Iterator[tuple[str, str]]:
    """(field, "kind:id") of every other object this one needs: destinations and prompts."""
    for field, dest in destinations(kind, rec):
        if ":" in dest and dest not in IVR_ONLY:
            yield field, dest
    for field in PROMPTS.get(kind, ()):
        if rec.get(field):
            yield field, f"prompt:{rec[field]}"


def _order(plan: Plan, saved: str, last: bool) -> list[tuple[str, str, dict]]:
    items = [(kind, f"{kind}:{oid}", rec) for kind, objs in plan.items() for oid, rec in sorted(objs.items())]
    saved_items = [item for item in items if item[1] == saved]
    others = [item for item in items if item[1] != saved]
    return others + saved_items if last else saved_items + others


def check_references(plan: Plan, saved: str) -> None:
    for kind, key, rec in _order(plan, saved, last=False):
        for field, ref in references(kind, rec):
            target_kind, _, target = ref.partition(":")
            if target_kind != "extension" and target not in plan.get(target_kind, {}):
                raise problem(key, field, f"{ref} does not exist")


def check_unique(plan: Plan, saved: str) -> None:
    """Numbers across numbered objects, feature codes, one `any` inbound route per trunk."""
    taken: dict[tuple[str, ...], str] = {}  # claim -> "kind:id" holding it
    for kind, key, rec in _order(plan, saved, last=True):
        claims: list[tuple[str, tuple[str, ...], str]] = []  # (field, what is claimed, how to say it is taken)
        if kind in NUMBERED and rec.get("number"):
            claims.append(("number", ("number", rec["number"]), f"{rec['number']} is already the number of"))
        if kind == "timecondition" and rec.get("feature_code"):
            code = rec["feature_code"]
            claims.append(("feature_code", ("feature_code", code), f"{code} is already the feature code of"))
        if kind == "inbound" and rec.get("caller") == "any":  # one per line and caller tier
            line = f"line {rec['trunk']}" if rec.get("trunk") else "every line"
            tier = f" for {rec['tier']} callers" if rec.get("tier") else ""
            claims.append(("caller", ("any", rec.get("trunk", ""), rec.get("tier", "")),
                           f"the 'any' route of {line}{tier} is already"))
        for field, claim, taken_by in claims:
            holder = taken.setdefault(claim, key)
            if holder != key:
                raise problem(key, field, f"{taken_by} {holder}", conflicts_with=holder)


def _automatic_graph(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    return {f"{kind}:{oid}": [(field, rec.get(field, "hangup")) for field in fields]
            for kind, fields in AUTOMATIC.items() for oid, rec in sorted(plan.get(kind, {}).items())}


def find_cycle(graph: dict[str, list[tuple[str, str]]], roots: Iterable[str]) -> list[tuple[str, str]] | None:
    """[(node, field of its edge to the next), ...] around a cycle, or None. Iterative, so a
    long chain of menus cannot exhaust the stack."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for root in roots:
        if root in state:
            continue
        path, todo = [root], [iter(graph[root])]
        fields: list[str] = []
        state[root] = 1
        while todo:
            step = next(todo[-1], None)
            if step is None:
                state[path.pop()] = 2
                todo.pop()
                if fields:
                    fields.pop()
                continue
            field, target = step
            if target not in graph or state.get(target) == 2:
                continue
            if state.get(target) == 1:
                start = path.index(target)
                return list(zip(path[start:], fields[start:] + [field], strict=True))
            state[target] = 1
            path.append(target)
            fields.append(field)
            todo.append(iter(graph[target]))
    return None


def check_cycles(plan: Plan, saved: str) -> None:
    graph = _automatic_graph(plan)
    cycle = find_cycle(graph, [saved] * (saved in graph) + sorted(graph))
    if cycle is None:
        return
    nodes = [node for node, _ in cycle]
    key, field = next(((n, f) for n, f in cycle if n == saved), cycle[0])
    ring = " -> ".join(nodes + [nodes[0]])
    raise problem(key, field, f"a call would loop with nobody pressing a key or answering: {ring}",
                  cycle=nodes + [nodes[0]])


def validate_plan(plan: Plan, saved: str) -> None:
    """Raise ValidationError for the first problem of the whole plan; `saved` is
    "kind:id" of the object being saved (reported first when it takes part)."""
    check_references(plan, saved)
    check_unique(plan, saved)
    check_cycles(plan, saved)


def referrers(plan: Plan, target: str) -> list[str]:
    """"kind:id" of every object that refers to `target` ("kind:id")."""
    return sorted({f"{kind}:{oid}" for kind, objs in plan.items() for oid, rec in objs.items()
                   if any(ref == target for _, ref in references(kind, rec))})
