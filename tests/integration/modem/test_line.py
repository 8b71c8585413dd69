"""ModemLine against the pty simulator, per dialect: init, an inbound call with caller
ID, answer with PCM audio both ways, remote hang-up, an outbound call, DTMF; and the
faults: unplugged mid-call, frozen, reset, 1 MB of garbage."""
from __future__ import annotations

import time

import numpy as np
import pytest

from hardware.dsp.dtmf import dtmf_tone
from hardware.modem.events import (
    CallConnected,
    CallEnded,
    CallerId,
    Dtmf,
    ModemDown,
    ModemUp,
    NetworkRegistration,
    Ring,
    SignalQuality,
    SmsReceived,
    UssdResponse,
)
from tests.support.line_harness import SimHarness
from tests.support.rtp import tone_level


@pytest.fixture(params=["sim7600", "ec25", "huawei", "sim800"])
def harness(request):
    h = SimHarness(request.param)
    yield h
    h.close()


def test_inbound_call_with_caller_id_audio_and_remote_hangup(harness: SimHarness) -> None:
    h = harness
    h.wait(ModemUp)
    assert h.wait(SignalQuality).dbm == -113 + 2 * 21
    assert h.wait(NetworkRegistration).registered and h.line.operator == "MegaFon"
    h.sim.incoming_call("+79161234567")
    h.wait(Ring)
    cid = h.wait(CallerId)
    assert cid.number == "+79161234567" and cid.number_type == 145
    h.line.answer()
    h.wait(CallConnected)
    assert h.sim.state == "active"
    if h.sim.dialect.pcm:
        tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(8000) / 8000)).astype(np.int16)
        h.sim.inject_audio(tone)
        out = (8000 * np.sin(2 * np.pi * 700 * np.arange(160) / 8000)).astype("<i2").tobytes()
        for _ in range(25):
            h.line.write_audio(out)
            time.sleep(0.02)
        time.sleep(0.6)
        heard = np.frombuffer(b"".join(h.frames), dtype="<i2")
        assert tone_level(heard[: 8000], 1000) > 0.3, "the line's audio did not reach the PBX side"
        assert tone_level(h.sim.captured_audio(), 700) > 0.3, "the PBX's audio did not reach the line"
    h.sim.remote_hangup()
    h.wait(CallEnded)
    time.sleep(0.3)
    assert not any(isinstance(e, CallEnded) for e in list(h.events.queue)), "one hang-up, one event"
    assert h.line.state == "idle"


def test_outbound_call_and_dtmf(harness: SimHarness) -> None:
    h = harness
    h.wait(ModemUp)
    h.line.dial("+74951234567")
    assert h.sim.dialed == ["+74951234567"]
    h.sim.remote_answer()
    h.wait(CallConnected)
    h.line.send_dtmf("12#")
    assert h.sim.sent_dtmf == ["1", "2", "#"]
    if h.sim.dialect.name == "sim800":
        h.sim.send_dtmf("5")
        assert h.wait(Dtmf).digit == "5"
    h.line.hangup()
    time.sleep(0.2)
    assert h.sim.state == "idle" and h.line.state == "idle"


def test_faults_unplug_freeze_reset_garbage_slow() -> None:
    h = SimHarness("sim7600")
    try:
        h.wait(ModemUp)
        h.sim.incoming_call("+79161234567")
        h.wait(CallerId)
        h.line.answer()
        h.wait(CallConnected)
        h.sim.fault("unplug")  # the pty goes away mid-call
        assert "line down" in h.wait(CallEnded).reason
        h.wait(ModemDown)
        assert h.line.state == "down"
        h.sim.fault("replug")
        h.wait(ModemUp)  # back by itself
        h.sim.fault("freeze")
        h.wait(ModemDown, timeout=10)  # keep-alive timed out
        h.sim.fault("thaw")
        h.wait(ModemUp, timeout=10)
        h.sim.fault("reset")
        h.wait(ModemDown)
        h.wait(ModemUp)  # re-initialised after the module's own reboot
        h.sim.garbage(1 << 20)  # 1 MB of noise on the port
        time.sleep(0.5)
        h.sim.incoming_call("+79161234567")
        assert h.wait(CallerId).number == "+79161234567"
        assert h.line.state in ("ringing", "idle")
        h.sim.fault("slow", 1.0)  # every answer a second late: slow, not dead
        started = time.monotonic()
        h.line.answer()
        h.wait(CallConnected)
        assert time.monotonic() - started >= 1.0 and h.line.state == "active"
        assert not any(isinstance(e, ModemDown) for e in h.collect(1.5))
    finally:
        h.close()


def test_dtmf_tone_helper_is_available_for_inband_lines() -> None:
    assert len(dtmf_tone("5", 0.08)) == 640


@pytest.mark.parametrize("dialect", ["sim800", "sim7600"])
def test_sms_both_ways_with_cyrillic_and_long_messages_and_ussd(dialect: str) -> None:
    h = SimHarness(dialect)
    try:
        h.wait(ModemUp)
        h.sim.incoming_sms("+79161234567", "Здравствуйте! Заказ №42 готов.")
        sms = h.wait(SmsReceived)
        assert (sms.sender, sms.text) == ("+79161234567", "Здравствуйте! Заказ №42 готов.")
        long_text = "Ваш заказ доставлен. Спасибо! " * 8
        h.sim.incoming_sms("+79161234567", long_text)
        sms = h.wait(SmsReceived)
        assert sms.text == long_text and sms.parts > 1
        assert h.line.send_sms("+79161234567", "Перезвоню через 5 минут") == 1
        assert h.line.send_sms("+79161234567", "Ж" * 150) == 3
        assert len(h.sim.sent_sms) == 4 and "0B919761214365F7" in h.sim.sent_sms[0]
        h.line.ussd("*100#")
        assert "100.00" in h.wait(UssdResponse).text
        # a message that comes while the modem is unplugged is read when it is back
        h.sim.fault("unplug")
        h.wait(ModemDown)
        h.sim.incoming_sms("+79031234567", "Пока вас не было")
        h.sim.fault("replug")
        h.wait(ModemUp)
        assert h.wait(SmsReceived).text == "Пока вас не было"
        assert h.sim._inbox == {}  # deleted from the SIM
    finally:
        h.close()


def test_a_sim7600_refusing_dsci_is_up_degraded_and_its_calls_end_by_the_call_list() -> None:
    """This simulated firmware says nothing when the far end hangs up: only the +CLCC poll can tell."""
    h = SimHarness("sim7600", refuse=["AT^DSCI=1"])
    try:
        assert h.wait(ModemUp).degraded == ("call-state URC",)
        h.answered_call("+79161234567")
        time.sleep(1.5)  # polled with the call still listed: it goes on
        assert h.line.state == "active" and not any(isinstance(e, CallEnded) for e in h.collect(0))
        h.sim.remote_hangup()
        assert h.wait(CallEnded, timeout=3).reason == "remote hangup"
        assert h.line.state == "idle" and h.line.degraded == ("call-state URC",)
        h.line.dial("+74951234567")  # turned down at the far end: nothing said either
        h.sim.remote_hangup()
        assert h.wait(CallEnded, timeout=3).reason == "remote hangup" and h.line.state == "idle"
        # the modem takes it again (say, after a firmware update): the next init is whole
        h.sim.fault("accept")
        h.sim.fault("reset")
        assert h.wait(ModemUp).degraded == () and h.line.degraded == ()
    finally:
        h.close()
