"""Phone lines (trunks) as configured by the owner, stored in TinyDB.

A trunk names a modem and how to drive it: its type (gsm or fxo), the AT dialect, the
serial port (and the PCM audio port of GSM modules that have one), and the country and
area code that turn the numbers the line reports into E.164. The port `sim` means a pty
modem simulator, which the daemon starts in development mode only.
"""
from __future__ import annotations

import builtins
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import phonenumbers
from tinydb import Query

from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import open_documents

# Which dialects fit which kind of line; the first is the default.
DIALECTS_BY_TYPE = {"gsm": ("sim7600", "ec25", "huawei", "sim800"), "fxo": ("usr5637",)}
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
SIMULATED = "sim"


@dataclass(frozen=True)
class Trunk:
    name: str
    type: str
    dialect: str
    port: str
    audio_port: str = ""
    country: str = "RU"
    area_code: str = ""
    created: float = 0.0

    @property
    def simulated(self) -> bool:
        return self.port == SIMULATED

    def public(self) -> dict:
        return asdict(self)


def _check_port(value: str, field: str, optional: bool = False) -> str:
    value = value.strip()
    if not value and optional:
        return ""
    if value == SIMULATED or value.startswith("/") or "://" in value:
        return value
    if field == "audio_port" and value.startswith("alsa:") and len(value) > 5:
        return value  # a USB sound card (SIM800's analog voice)
    raise ValidationError(f"{field}: a device path such as /dev/ttyUSB2, a pyserial URL, or 'sim'"
                          + (", or alsa:DEVICE for a sound card" if field == "audio_port" else ""),
                          details={"field": field})


def new_trunk(name: str, type: str = "gsm", dialect: str = "", port: str = "", audio_port: str = "",
              country: str = "RU", area_code: str = "") -> Trunk:
    """Validate one trunk; every message names the field and what would be right."""
    name, type, dialect = name.strip(), type.strip().lower(), dialect.strip().lower()
    if not NAME.match(name):
        raise ValidationError("trunk name: 1 to 16 lower-case letters, digits, '-' or '_', starting with a letter",
                              details={"field": "name"})
    if type not in DIALECTS_BY_TYPE:
        raise ValidationError(f"type must be one of {', '.join(DIALECTS_BY_TYPE)}", details={"field": "type"})
    dialect = dialect or DIALECTS_BY_TYPE[type][0]
    if dialect not in DIALECTS_BY_TYPE[type]:
        raise ValidationError(f"a {type} trunk takes the dialect {' or '.join(DIALECTS_BY_TYPE[type])}",
                              details={"field": "dialect"})
    if not port.strip():
        raise ValidationError("port: the modem's AT port is required (or 'sim')", details={"field": "port"})
    port = _check_port(port, "port")
    audio_port = _check_port(audio_port, "audio_port", optional=True)
    country = (country or "RU").strip().upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"country: {country!r} is no ISO 3166 region code (RU, DE, US, ...)",
                              details={"field": "country"})
    area_code = area_code.strip()
    if area_code and not area_code.isdigit():
        raise ValidationError("area_code: digits only, e.g. 495", details={"field": "area_code"})
    return Trunk(name, type, dialect, port, audio_port, country, area_code, time.time())


class TrunkStore:
    def __init__(self, data_dir: Path) -> None:
        self.docs = open_documents(data_dir, "trunks")

    def stamp(self) -> object:
        """Changes whenever any process writes the trunks (the daemon re-reads then)."""
        return self.docs.stamp()

    def list(self) -> builtins.list[Trunk]:
        return sorted((Trunk(**r) for r in self.docs.fresh().all()), key=lambda t: t.name)

    def get(self, name: str) -> Trunk | None:
        return next((t for t in self.list() if t.name == name), None)

    def add(self, trunk: Trunk) -> Trunk:
        with self.docs.writing() as db:
            rows = db.all()
            if any(r["name"] == trunk.name for r in rows):
                raise Conflict(f"trunk {trunk.name} already exists")
            real = [r for r in rows if r["port"] != SIMULATED]
            if trunk.port != SIMULATED and any(trunk.port in (r["port"], r["audio_port"]) for r in real):
                raise Conflict(f"port {trunk.port} is already used by another trunk")
            db.insert(asdict(trunk))
        return trunk

    def delete(self, name: str) -> None:
        with self.docs.writing() as db:
            if not db.remove(Query().name == name):
                raise NotFound(f"trunk {name} does not exist")

    def close(self) -> None:
        self.docs.close()
