"""One exception tree for the whole PBX; API errors carry status, error_id and details."""
from __future__ import annotations


class PbxError(Exception):
    """Base of every error the PBX raises on purpose."""

    status = 500
    error_id = "internal"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class ConfigError(PbxError):
    """Bad configuration: names the section and the field."""

    status = 400
    error_id = "config"

    def __init__(self, section: str, field: str, problem: str) -> None:
        super().__init__(f"[{section}] {field}: {problem}", details={"section": section, "field": field})


class ValidationError(PbxError):
    status = 400
    error_id = "invalid"


class NotFound(PbxError):
    status = 404
    error_id = "not_found"


class Conflict(PbxError):
    status = 409
    error_id = "conflict"


class AuthError(PbxError):
    status = 401
    error_id = "unauthorized"


class StorageError(PbxError):
    status = 503
    error_id = "storage"


class LineUnavailable(PbxError):
    """A phone line is down or the modem refused the operation."""

    status = 503
    error_id = "line_unavailable"


class SipParseError(PbxError):
    """A SIP message that cannot be parsed; the edge answers 400 or drops it."""

    status = 400
    error_id = "sip_parse"
