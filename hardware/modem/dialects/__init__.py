"""Modem dialects: generic operations mapped to each module's AT commands, and its URCs
parsed into events. get_dialect(name) picks one."""
from __future__ import annotations

from hardware.modem.dialects.base import Dialect
from hardware.modem.dialects.gsm import EC25, HUAWEI, SIM800, SIM7600
from hardware.modem.dialects.v253 import USR5637

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SIM800, SIM7600, EC25, HUAWEI, USR5637)}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown modem dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None


__all__ = ["Dialect", "DIALECTS", "get_dialect"]
