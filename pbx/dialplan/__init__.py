"""The dial plan: where a call goes, as data (docs/dialplan.md).

The store validates the whole plan on every save and hands the core an immutable
snapshot; patterns, schedules and number classes are parsed here so the call path only
looks things up.
"""
