"""Run-time settings of the daemon: command-line options over PBX_* environment
variables over development defaults. Bad values fail fast naming the field."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pbx.errors import ConfigError


def parse_hostport(value: str, field: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ConfigError("run", field, f"expected HOST:PORT, got {value!r}")
    try:
        number = int(port)
    except ValueError:
        raise ConfigError("run", field, f"port must be a number, got {port!r}") from None
    if not 0 <= number <= 65535:
        raise ConfigError("run", field, f"port out of range: {number}")
    return host.strip("[]"), number


@dataclass
class RunConfig:
    data_dir: Path
    sip: tuple[str, int] = ("127.0.0.1", 5060)
    http: tuple[str, int] = ("127.0.0.1", 8080)
    ring_timeout: float = 30.0
    log_level: str = "INFO"
    simulated_hardware: bool = True  # PBX_HARDWARE=real on the device

    @classmethod
    def from_args(cls, data: str | None, sip: str | None, http: str | None,
                  ring_timeout: float | None = None, log_level: str | None = None) -> "RunConfig":
        env = os.environ
        cfg = cls(
            data_dir=Path(data or env.get("PBX_DATA", "./var")).resolve(),
            sip=parse_hostport(sip or env.get("PBX_SIP", "127.0.0.1:5060"), "sip"),
            http=parse_hostport(http or env.get("PBX_HTTP", "127.0.0.1:8080"), "http"),
            log_level=(log_level or env.get("PBX_LOG_LEVEL", "INFO")).upper(),
            simulated_hardware=env.get("PBX_HARDWARE", "sim") != "real",
        )
        timeout = ring_timeout if ring_timeout is not None else env.get("PBX_RING_TIMEOUT")
        if timeout is not None:
            try:
                cfg.ring_timeout = float(timeout)
            except ValueError:
                raise ConfigError("run", "ring_timeout", f"not a number: {timeout!r}") from None
            if cfg.ring_timeout <= 0:
                raise ConfigError("run", "ring_timeout", "must be positive")
        return cfg
