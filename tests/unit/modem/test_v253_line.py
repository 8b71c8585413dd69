"""ModemLine on the usr5637 dialect against a scripted modem on a pty: recorded replies,
and every byte the line sends checked: the init sequence, RING + caller-ID block, answer
-> CONNECT -> DLE-shielded 8-bit audio both ways (a literal 0x10 sample each way), DLE
DTMF, DLE b busy, the hang-up sequence DLE ! DLE ETX / AT+VLS=0, outbound VCON / BUSY."""
from __future__ import annotations

import time

import numpy as np
import pytest

from hardware.modem.dle import END_RX, END_TX, shield
from hardware.modem.events import CallConnected, CallEnded, CallerId, Dtmf, Ring, Validity
from hardware.modem.voice import to_u8
from tests.support.modem_facts import INIT, PREAMBLE, v253_script
from tests.support.scripted_modem import OK
from tests.support.scripted_modem import Rig as ScriptedRig


class Rig(ScriptedRig):
    def __init__(self, script: dict[bytes, bytes] | None = None, streaming: bool = False,
                 **dialect_changes: object) -> None:
        super().__init__("usr5637", v253_script(script or {}), streaming, name="fxo1", **dialect_changes)


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def test_init_sends_the_v253_sequence_and_polls_no_network(rig: Rig) -> None:
    assert bytes(rig.modem.raw) == PREAMBLE + b"".join(c + b"\r" for c in INIT)  # not a byte more
    assert rig.line.state == "idle" and rig.line.signal is None and rig.line.operator == ""


def test_a_modem_left_streaming_is_brought_back_to_command_mode_first() -> None:
    rig = Rig(streaming=True)  # e.g. the daemon restarted mid-call
    try:
        assert bytes(rig.modem.stream) == PREAMBLE
        assert rig.modem.commands == INIT and rig.line.state == "idle"
    finally:
        rig.close()


def test_ring_and_caller_id_block(rig: Rig) -> None:
    rig.modem.send(b"\r\nRING\r\n\r\nDATE=0801\r\nTIME=1405\r\nNMBR=4951234567\r\nNAME=IVANOV I\r\n")
    rig.wait(Ring)
    assert rig.wait(CallerId) == CallerId("fxo1", "4951234567", 129, Validity.OK, "IVANOV I")
    assert rig.line.state == "ringing"
    rig.modem.send(b"\r\nRING\r\n")
    rig.wait(Ring)
    assert sum(isinstance(e, CallerId) for e in rig.seen) == 1


def test_withheld_caller(rig: Rig) -> None:
    rig.modem.send(b"\r\nRING\r\n\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = P\r\nNAME = P\r\n")
    cid = rig.wait(CallerId)
    assert cid.validity is Validity.WITHHELD and cid.anonymous


def test_answer_audio_both_ways_dtmf_and_busy_then_the_line_hangs_up_itself(rig: Rig) -> None:
    rig.modem.send(b"\r\nRING\r\n")
    rig.wait(Ring)
    rig.line.answer()
    rig.wait(CallConnected)
    assert rig.modem.commands[len(INIT):] == [b"AT+VLS=1", b"AT+VTR"] and rig.line.state == "active"
    # modem -> host: one 20 ms frame of 8-bit audio holding a literal 0x10 sample, then DLE 5
    samples = bytearray([0x80] * 160)
    samples[3] = 0x10
    rig.modem.send(shield(bytes(samples)) + b"\x105")
    assert rig.wait(Dtmf).digit == "5"
    rig.until(lambda: len(rig.frames) >= 1)
    frame = np.frombuffer(rig.frames[0], "<i2")
    assert len(rig.frames[0]) == 320 and frame[3] == -28672 and not np.any(np.delete(frame, 3))
    # host -> modem: a frame with a sample that becomes 0x10 goes out doubled
    out = np.zeros(160, np.int16)
    out[7] = -28672
    rig.line.write_audio(out.astype("<i2").tobytes())
    wire = shield(to_u8(out))
    assert wire.count(b"\x10\x10") == 1
    rig.until(lambda: wire in bytes(rig.modem.stream))
    assert set(rig.modem.stream.replace(wire, b"")) == {0x80}  # otherwise silence, paced
    # DLE b: the far end is gone; the line ends the stream and goes on-hook by itself
    rig.modem.send(b"\x10b")
    assert rig.wait(CallEnded).reason == "busy tone"
    rig.until(lambda: rig.modem.commands[-1] == b"AT+VLS=0")
    assert bytes(rig.modem.stream).endswith(END_RX + END_TX)
    rig.until(lambda: rig.line.state == "idle")


def test_hangup_by_the_pbx_sends_dle_excl_dle_etx_then_on_hook(rig: Rig) -> None:
    rig.modem.send(b"\r\nRING\r\n")
    rig.wait(Ring)
    rig.line.answer()
    rig.wait(CallConnected)
    time.sleep(0.1)
    rig.line.hangup()
    assert bytes(rig.modem.stream).endswith(END_RX + END_TX)
    assert rig.modem.commands[-1] == b"AT+VLS=0" and not rig.modem.streaming
    assert rig.line.state == "idle" and rig.line.voice is None
    n = len(rig.modem.raw)
    time.sleep(0.1)
    assert len(rig.modem.raw) == n, "no audio after the stream ended"
    assert not any(isinstance(e, CallEnded) for e in list(rig.events.queue)), "our own hang-up is no event"


def test_outbound_vcon_is_connected() -> None:
    rig = Rig({b"ATD84951234567;": b"\r\nVCON\r\n"})
    try:
        rig.line.dial("84951234567")
        rig.wait(CallConnected)
        assert rig.modem.commands[len(INIT):] == [b"AT+VLS=1", b"ATD84951234567;", b"AT+VTR"]
        assert rig.line.state == "active" and rig.modem.streaming
    finally:
        rig.close()


@pytest.mark.parametrize(("result", "reason"), [(b"BUSY", "busy"), (b"NO DIALTONE", "no dial tone"),
                                                (b"NO CARRIER", "no carrier")])
def test_outbound_failures_end_the_call_and_go_on_hook(result: bytes, reason: str) -> None:
    rig = Rig({b"ATD5551234;": b"\r\n" + result + b"\r\n"})
    try:
        rig.line.dial("5551234")
        assert rig.wait(CallEnded).reason == reason
        assert rig.modem.commands[-1] == b"AT+VLS=0" and rig.line.state == "idle"
    finally:
        rig.close()


def test_rings_that_stop_mean_the_caller_gave_up() -> None:
    rig = Rig(ring_timeout=0.4)
    try:
        rig.modem.send(b"\r\nRING\r\n")
        rig.wait(Ring)
        assert rig.wait(CallEnded, timeout=2).reason == "caller gave up"
        assert rig.line.state == "idle"
    finally:
        rig.close()


def test_modem_ending_the_stream_itself_after_busy_is_one_call_end(rig: Rig) -> None:
    rig.modem.send(b"\r\nRING\r\n")
    rig.wait(Ring)
    rig.line.answer()
    rig.wait(CallConnected)
    rig.modem.streaming = False  # the modem leaves the stream on its own: DLE b, DLE ETX, OK
    rig.modem.send(b"\x80\x80\x10b" + END_TX + OK)
    assert rig.wait(CallEnded).reason == "busy tone"
    rig.until(lambda: rig.line.state == "idle" and rig.modem.commands[-1] == b"AT+VLS=0")
    assert not any(isinstance(e, CallEnded) for e in rig.collect(0.3)), "one call end"
    assert END_RX not in bytes(rig.modem.raw)[len(PREAMBLE):], "no stream left to end"
