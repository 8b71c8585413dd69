"""The FXO line (usr5637 dialect) against the pty simulator, as the PBX drives it: caller
ID, answer, audio both ways in the AT stream, DLE DTMF in, in-band DTMF out, the far end
hanging up heard as the busy tone, outbound calls, faults; and the in-band DTMF detector
on the GSM PCM lines."""
from __future__ import annotations

import time

import numpy as np
import pytest

from hardware.modem.events import (
    CallConnected,
    CallEnded,
    CallerId,
    Dtmf,
    ModemDown,
    ModemUp,
    Ring,
    Validity,
)
from tests.support.line_harness import SimHarness
from tests.support.rtp import tone_level


def sine(hz: float, samples: int, level: float = 8000.0) -> np.ndarray:
    return (level * np.sin(2 * np.pi * hz * np.arange(samples) / 8000)).astype(np.int16)


@pytest.fixture
def fxo():
    h = SimHarness("usr5637", "fxo1")
    h.wait(ModemUp)
    yield h
    h.close()


until = SimHarness.until


def test_inbound_call_audio_dtmf_and_far_end_hangup_by_busy_tone(fxo: SimHarness) -> None:
    h = fxo
    assert h.sim.audio_port is None and h.line.signal is None  # one port; no network on a copper line
    h.sim.incoming_call("4951234567", name="IVANOV I")
    h.wait(Ring)
    cid = h.wait(CallerId)
    assert (cid.number, cid.name, cid.validity) == ("4951234567", "IVANOV I", Validity.OK)
    assert time.time() - h.sim.last_ring_at < 1.0
    h.line.answer()
    h.wait(CallConnected)
    assert h.sim.state == "active" and h.sim.off_hook and h.line.state == "active"
    # the far end's voice reaches on_audio in 320-byte frames
    h.sim.inject_audio(sine(1000, 8000))
    # the PBX's voice reaches the far end (paced by the caller, as pjmedia does)
    out = sine(700, 160).astype("<i2").tobytes()
    for _ in range(25):
        h.line.write_audio(out)
        time.sleep(0.02)
    time.sleep(0.6)
    assert {len(f) for f in h.frames} == {320}
    heard = np.frombuffer(b"".join(h.frames), "<i2")
    start = int(np.argmax(np.abs(heard) > 1000))
    assert tone_level(heard[start:start + 4000], 1000) > 0.5, "the line's audio did not reach the PBX side"
    captured = h.sim.captured_audio()
    sent = captured[np.abs(captured) > 1000]
    assert len(sent) > 3000 and tone_level(captured[np.argmax(np.abs(captured) > 1000):][:3200], 700) > 0.5
    # digits from the far end: DLE codes in the stream
    h.sim.send_dtmf("4#")
    assert [h.wait(Dtmf).digit, h.wait(Dtmf).digit] == ["4", "#"]
    # digits to the far end: tones in the audio, found by the far end's detector
    h.line.send_dtmf("12*9")
    until(lambda: len(h.sim.sent_dtmf) >= 4, timeout=3)
    assert h.sim.sent_dtmf == ["1", "2", "*", "9"]
    # the far end hangs up: only the busy tone says so
    h.sim.remote_hangup()
    assert h.wait(CallEnded, timeout=6).reason == "busy tone"
    until(lambda: h.line.state == "idle" and not h.sim.off_hook)
    assert not any(isinstance(e, CallEnded) for e in h.collect(0.3)), "one hang-up, one event"
    assert [e.digit for e in h.seen if isinstance(e, Dtmf)] == ["4", "#"], "no digits but the far end's"


def test_withheld_caller_and_hangup_by_the_pbx(fxo: SimHarness) -> None:
    h = fxo
    h.sim.incoming_call("", withheld=True)
    cid = h.wait(CallerId)
    assert cid.anonymous and cid.validity is Validity.WITHHELD
    h.line.answer()
    h.wait(CallConnected)
    time.sleep(0.2)
    h.line.hangup()
    assert h.line.state == "idle" and h.sim.state == "idle" and not h.sim.off_hook
    assert not h.sim.voice.streaming  # type: ignore[union-attr]
    h.sim.incoming_call("4957654321")  # the line is ready for the next call
    assert h.wait(CallerId).number == "4957654321"


def test_a_call_the_pbx_declines_still_rings_and_is_not_offered_again(fxo: SimHarness) -> None:
    """On-hook does not stop an analog line ringing: the rings that follow are the same
    caller (no caller-ID block any more), not a new anonymous call every two rings."""
    h = fxo
    h.sim.incoming_call("4951234567")
    assert h.wait(CallerId).number == "4951234567"
    h.line.hangup()  # no one to take it
    seen = h.collect(4.0)  # at least one more RING from the exchange
    assert h.sim.state == "ringing" and not any(isinstance(e, (Ring, CallerId)) for e in seen), seen
    h.sim.remote_hangup()  # the caller gives up; the rings stop
    time.sleep(8.5)  # longer than a ring cycle: the line is free again
    h.sim.incoming_call("4957654321")
    assert h.wait(CallerId).number == "4957654321"


def test_outbound_call_dle_busy_and_failures() -> None:
    h = SimHarness("usr5637", "fxo1", busy_dle=True)
    try:
        h.wait(ModemUp)
        h.line.dial("84951234567")
        h.wait(CallConnected)  # VCON: no answer supervision on an analog line
        assert h.sim.dialed == ["84951234567"] and h.line.state == "active"
        h.sim.inject_audio(sine(1000, 4000))  # the far end's voice, once it picks up
        time.sleep(0.6)
        ringing = np.frombuffer(b"".join(h.frames), "<i2")
        assert tone_level(ringing[:4000], 425) > 0.5, "ringback while the far end rings"
        h.frames.clear()
        h.sim.remote_answer()
        assert h.sim.state == "active"
        time.sleep(0.8)
        heard = np.frombuffer(b"".join(h.frames), "<i2")
        assert tone_level(heard[np.argmax(np.abs(heard) > 1000):][:3200], 1000) > 0.5
        began = time.monotonic()
        h.sim.remote_hangup()  # this modem also reports DLE b: no need to wait for the cadence
        assert h.wait(CallEnded).reason == "busy tone" and time.monotonic() - began < 1.0
        until(lambda: h.line.state == "idle" and not h.sim.off_hook)
        h.sim.voice.dial_result = "BUSY"  # type: ignore[union-attr]
        h.line.dial("5551234")
        assert h.wait(CallEnded).reason == "busy" and h.line.state == "idle"
        until(lambda: not h.sim.off_hook)
    finally:
        h.close()


def test_faults_mid_call_unplug_and_freeze() -> None:
    h = SimHarness("usr5637", "fxo1")
    try:
        h.wait(ModemUp)
        h.answered_call("4951234567")
        h.sim.fault("unplug")
        assert "line down" in h.wait(CallEnded).reason
        h.wait(ModemDown)
        h.sim.fault("replug")
        h.wait(ModemUp)
        h.answered_call("4951234567")
        h.sim.fault("freeze")  # the stream stops mid-call: no keep-alive can be sent, silence tells
        assert "line down" in h.wait(CallEnded, timeout=5).reason
        h.wait(ModemDown)
        h.sim.fault("thaw")
        h.wait(ModemUp, timeout=10)
    finally:
        h.close()


@pytest.mark.parametrize("dialect", ["sim7600", "huawei"])
def test_inband_dtmf_detection_on_pcm_gsm_lines(dialect: str) -> None:
    h = SimHarness(dialect)
    try:
        h.wait(ModemUp)
        h.answered_call("+79161234567")
        h.sim.inject_audio(sine(1000, 2400))  # voice first: no digits from it
        h.sim.send_dtmf("123")
        digits = [e.digit for e in h.collect(1.5) if isinstance(e, Dtmf)]
        assert digits == ["1", "2", "3"]
    finally:
        h.close()
