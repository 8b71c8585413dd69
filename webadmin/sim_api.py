"""Development mode only: drive the simulated phone lines of a running daemon (what
`pbx sim ...` and the tests use). Absent on a device with real lines."""
from __future__ import annotations

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from hardware.dsp.tones import tone_level
from pbx.errors import NotFound, ValidationError
from pbx.services import Services
from webadmin.api import require_token

bp = Blueprint("sim", __name__, url_prefix="/api/v1/sim")
bp.before_request(require_token)


def simulator(line: str):  # type: ignore[no-untyped-def]
    services: Services = current_app.extensions["pbx"]
    sim = services.simulators.get(line)
    if sim is None:
        raise NotFound(f"no simulated line {line} (simulators run in development mode only)")
    return sim


def _say_tone(sim, body: dict) -> None:  # type: ignore[no-untyped-def]
    """The far end 'speaks' a steady tone (tone_hz, seconds), for audio checks."""
    try:
        tone, seconds = float(body.get("tone_hz") or 0), min(float(body.get("seconds", 30)), 600.0)
    except (TypeError, ValueError):
        raise ValidationError("tone_hz and seconds must be numbers") from None
    if tone:
        t = np.arange(int(8000 * seconds)) / 8000
        sim.inject_audio((6000 * np.sin(2 * np.pi * tone * t)).astype(np.int16))


@bp.post("/<line>/call")
def call(line: str):  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    number = str(body.get("from", ""))
    if not number and not body.get("withheld"):
        raise ValidationError("give the caller's number in 'from' (or 'withheld': true)")
    sim = simulator(line)
    _say_tone(sim, body)
    sim.incoming_call(number, withheld=bool(body.get("withheld")))
    return jsonify({"line": line, "state": sim.state}), 202


@bp.post("/<line>/answer")
def answer(line: str):  # type: ignore[no-untyped-def]
    """The number the PBX dialled picks up (optionally 'saying' a tone)."""
    body = request.get_json(silent=True) or {}
    sim = simulator(line)
    _say_tone(sim, body)
    sim.remote_answer()
    return jsonify({"line": line, "state": sim.state})


@bp.post("/<line>/hangup")
def hangup(line: str):  # type: ignore[no-untyped-def]
    sim = simulator(line)
    sim.remote_hangup()
    return jsonify({"line": line, "state": sim.state})


@bp.get("/<line>")
def state(line: str):  # type: ignore[no-untyped-def]
    """The line's state and, with ?hz=F, how much of the audio the PBX sent is that tone."""
    sim = simulator(line)
    out = {"line": line, "state": sim.state, "dialed": sim.dialed, "sent_dtmf": sim.sent_dtmf,
           "sent_sms": sim.sent_sms, "last_ring_at": sim.last_ring_at, "plugged": sim.plugged,
           "off_hook": sim.off_hook, "refused": sorted(sim.refused)}
    if "hz" in request.args:
        out["tone_level"] = tone_level(sim.captured_audio()[-16000:], float(request.args["hz"]))
    if "level" in request.args:  # RMS of the last N ms the PBX sent (a prompt is heard)
        ms = min(max(int(request.args.get("level") or 1000), 20), 60000)
        tail = sim.captured_audio()[-8 * ms:].astype(np.float64)
        out["rms"] = float(np.sqrt(np.mean(tail ** 2))) if tail.size else 0.0
    return jsonify(out)


@bp.post("/<line>/sms")
def sms(line: str):  # type: ignore[no-untyped-def]
    """The network delivers a text message to the line (several parts when long)."""
    body = request.get_json(silent=True) or {}
    sender, text = str(body.get("from", "")), str(body.get("text", ""))
    if not sender or not text:
        raise ValidationError("give the sender in 'from' and the message in 'text'")
    simulator(line).incoming_sms(sender, text)
    return jsonify({"line": line, "from": sender}), 202


@bp.post("/<line>/dtmf")
def dtmf(line: str):  # type: ignore[no-untyped-def]
    """The far end presses keys."""
    digits = str((request.get_json(silent=True) or {}).get("digits", ""))
    if not digits or set(digits) - set("0123456789*#ABCD"):
        raise ValidationError("digits: 0-9, *, #, A-D")
    simulator(line).send_dtmf(digits)
    return jsonify({"line": line, "digits": digits})


FAULTS = ("unplug", "replug", "freeze", "thaw", "reset", "garbage", "slow", "refuse", "accept")


@bp.post("/<line>/fault")
def fault(line: str):  # type: ignore[no-untyped-def]
    """unplug/replug, freeze/thaw, reset, garbage (random bytes), slow (seconds per answer),
    refuse/accept a command (other firmware: seen at the line's next init, e.g. after reset)."""
    body = request.get_json(silent=True) or {}
    kind = str(body.get("kind", ""))
    if kind not in FAULTS:
        raise ValidationError(f"kind: one of {', '.join(FAULTS)}")
    try:
        seconds = float(body.get("seconds", 0))
    except (TypeError, ValueError):
        raise ValidationError("seconds must be a number") from None
    command = str(body.get("command") or "")
    if kind == "refuse" and not command.upper().startswith("AT"):
        raise ValidationError("command: the AT command to refuse, e.g. AT^DSCI=1")
    sim = simulator(line)
    if kind == "garbage":
        sim.garbage(int(body.get("bytes", 4096)))
    else:
        sim.fault(kind, seconds, command)
    return jsonify({"line": line, "fault": kind, "refused": sorted(sim.refused)})
