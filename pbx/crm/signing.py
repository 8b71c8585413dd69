"""Standard Webhooks signatures (standardwebhooks.com): the secret is `whsec_` + base64 of
random bytes; webhook-signature is "v1,<base64 HMAC-SHA256 of id.timestamp.body>"."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three headers of one attempt (the timestamp is the attempt's, as the spec says)."""
    timestamp = int(time.time() if now is None else now)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body)}
