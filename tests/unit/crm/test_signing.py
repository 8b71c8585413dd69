"""Signatures checked by the Standard Webhooks reference verifier (the standardwebhooks
package), not by our own code."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pbx.crm import signing


def test_the_reference_verifier_accepts_our_signature() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    body = '{"type":"sms.received","timestamp":"2026-01-01T00:00:00.000Z","data":{"text":"Привет"}}'.encode()
    headers = signing.headers(secret, "msg_abc", body)
    assert Webhook(secret).verify(body, headers) == {"type": "sms.received", "timestamp": "2026-01-01T00:00:00.000Z",
                                                      "data": {"text": "Привет"}}


def test_a_changed_body_id_or_secret_fails_verification() -> None:
    secret, body = signing.new_secret(), b'{"a":1}'
    headers = signing.headers(secret, "msg_1", body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    key = b"0123456789abcdef0123"
    secret = "whsec_" + base64.b64encode(key).decode()
    now = int(time.time())
    expected = base64.b64encode(hmac.new(key, f"msg_x.{now}.".encode() + b"{}", hashlib.sha256).digest()).decode()
    assert signing.headers(secret, "msg_x", b"{}", now=now) == {
        "webhook-id": "msg_x", "webhook-timestamp": str(now), "webhook-signature": "v1," + expected}
