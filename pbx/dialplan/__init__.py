"""The dial plan: where a call goes, as data (docs/dialplan.md)."""
