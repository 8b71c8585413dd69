"""How a `pbx` command reaches the running daemon: daemon.json in the data directory
holds its web address and a local token (root-only file, revoked at stop)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import requests

from pbx.errors import PbxError


class DaemonNotRunning(PbxError):
    status = 503
    error_id = "not_running"


def daemon(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    path = Path(args.data) / "daemon.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        raise DaemonNotRunning(f"no running daemon found for {args.data} (start it with: pbx run)") from None
    return info["url"] + "/api/v1", {"Authorization": f"Bearer {info['token']}"}


def call_api(args: argparse.Namespace, method: str, path: str, body: dict | None = None,
             timeout: float = 10) -> dict:
    base, headers = daemon(args)
    try:
        resp = requests.request(method, base + path, json=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise DaemonNotRunning(f"the daemon does not answer: {exc}") from None
    data = resp.json() if resp.content else {}
    if resp.status_code >= 400:
        raise PbxError(data.get("message", f"HTTP {resp.status_code}"))
    return data
