"""Modems with other firmware, on recorded bytes: for every dialect, each optional init
command refused in turn, the line comes up degraded with that feature named, sends its
commands once each and not a byte more, and an inbound call still rings and ends (with
^DSCI refused, the +CLCC poll notices the far end hanging up). A required command refused
keeps the line down with the reason; refusals are said once, not at every re-init."""
from __future__ import annotations

import logging
import time

import pytest

from hardware.modem.dialects import get_dialect
from hardware.modem.events import CallConnected, CallEnded, CallerId, ModemUp, NetworkRegistration, Ring, SmsReceived
from hardware.modem.line import ModemLine
from tests.support.modem_facts import DELIVER, FACTS, INIT, PREAMBLE, r, script, v253_script
from tests.support.scripted_modem import OK, Rig, ScriptedModem

ERROR = r("ERROR")
CPMS = 'AT+CPMS="SM","SM","SM"'
# command -> the feature the line shows missing without it ("": nothing the line uses is lost)
GSM_OPTIONAL = {"AT+CMEE=1": "", "AT+CMGF=0": "SMS PDU mode", CPMS: "SMS storage",
                "AT+CNMI=2,1,0,0,0": "SMS indications", "AT+CREG=1": "registration URC",
                "AT+CCWA=0,0,1": "call waiting off"}
OPTIONAL = {
    "sim800": {**GSM_OPTIONAL, "AT+DDET=1,1000,0": "DTMF reports"},
    "sim7600": {**GSM_OPTIONAL, "AT^DSCI=1": "call-state URC"},
    "ec25": {**GSM_OPTIONAL, "AT+QPCMV=0": ""},  # AT+QPCMV=1,0 still sets the voice mode
    "huawei": {"AT+CMEE=0": "", "AT+CMGF=0": "SMS PDU mode", CPMS: "SMS storage",
               "AT+CNMI=2,1,0,2,0": "SMS indications", "AT+CREG=2": "registration URC", "AT+CSSN=1,1": "",
               "AT+CCWA=0,0,1": "call waiting off"},
    "usr5637": {"ATZ": "", "AT+VSD=128,0": "silence detection off"},
}
REQUIRED = {"sim800": ["AT+CLIP=1"], "sim7600": ["AT+CLIP=1"], "ec25": ["AT+CLIP=1", "AT+QPCMV=1,0"],
            "huawei": ["AT^CVOICE?", "AT+CLIP=1"],
            "usr5637": ["ATE0", "ATV1", "AT+VCID=1", "AT+FCLASS=8", "AT+VSM=128,8000"]}
CASES = [pytest.param(d, c, id=f"{d}:{c}") for d, commands in OPTIONAL.items() for c in commands]
CALLER = '+CLIP: "+79161234567",145,"",0,"",0'
CID_BLOCK = b"\r\nRING\r\n\r\nDATE=0801\r\nTIME=1405\r\nNMBR=4951234567\r\nNAME=IVANOV I\r\n"


def modem_script(dialect: str, refused: dict[str, bytes]) -> dict:
    base = v253_script({}) if dialect == "usr5637" else script(dialect)
    return {**base, **{command.encode(): reply for command, reply in refused.items()}}


def init_sent(dialect: str) -> list[bytes]:
    return INIT if dialect == "usr5637" else [b"AT", b"ATE0", *(c.encode() for c in FACTS[dialect].init)]


@pytest.mark.parametrize("dialect", list(OPTIONAL))
def test_each_dialect_splits_its_init_as_the_manuals_say(dialect: str) -> None:
    steps = get_dialect(dialect).init
    assert {s.command: s.feature if s.degrades else "" for s in steps if not s.required} == OPTIONAL[dialect]
    assert [s.command for s in steps if s.required] == REQUIRED[dialect]
    assert all(s.fallback and s.feature for s in steps if not s.required)


@pytest.mark.parametrize(("dialect", "refused"), CASES)
def test_an_optional_command_refused_leaves_the_line_up_degraded(dialect: str, refused: str) -> None:
    name = "fxo1" if dialect == "usr5637" else "gsm1"
    rig = Rig(dialect, modem_script(dialect, {refused: ERROR}), name=name)
    try:
        feature = OPTIONAL[dialect][refused]
        assert rig.up.degraded == rig.line.degraded == ((feature,) if feature else ())
        sent = init_sent(dialect)
        rig.until(lambda: len(rig.modem.commands) >= len(sent))
        assert rig.modem.commands[:len(sent)] == sent  # in order; the refused one once, never again
        assert bytes(rig.modem.raw).startswith((PREAMBLE if dialect == "usr5637" else b"\x1b")
                                               + b"".join(c + b"\r" for c in sent))
        if dialect == "usr5637":
            analog_call(rig)
        else:
            gsm_call(rig, dialect, refused)
            # nothing but command lines went out: ESC first, then each command and its CR
            rig.until(lambda: bytes(rig.modem.raw) == b"\x1b" + b"".join(c + b"\r" for c in rig.modem.commands))
        assert rig.line.state == "idle" and rig.line.degraded == rig.up.degraded
    finally:
        rig.close()


def gsm_call(rig: Rig, dialect: str, refused: str) -> None:
    """RING + caller ID, the answer, the far end hangs up; without ^DSCI the modem says
    nothing then, and only its call list (a poll the line makes) tells."""
    rig.wait(NetworkRegistration)
    polled = refused == "AT^DSCI=1"
    call = {"stat": 4}  # the modem's call list: +CLCC stat 4 incoming, 0 active, none at all

    def clcc() -> bytes:
        return r(f'+CLCC: 1,1,{call["stat"]},0,0,"+79161234567",145', "OK") if call["stat"] >= 0 else OK

    def ata() -> bytes:
        call["stat"] = 0
        return FACTS[dialect].answer_reply

    if polled:
        rig.modem.script.update({b"AT+CLCC": clcc, b"ATA": ata})
    rig.modem.send(r("RING", CALLER))
    rig.wait(Ring)
    assert rig.wait(CallerId).number == "+79161234567"
    rig.line.answer()
    rig.wait(CallConnected)
    if polled:
        rig.until(lambda: rig.modem.commands.count(b"AT+CLCC") >= 3)  # polled while it rang and runs
        assert rig.line.state == "active" and not [e for e in rig.collect(0) if isinstance(e, CallEnded)]
        call["stat"] = -1  # the far end hung up: no URC at all
    else:
        rig.modem.send(FACTS[dialect].remote_end)
    ended = rig.wait(CallEnded, timeout=3)
    assert ended.reason == "remote hangup" or not polled
    assert rig.collect(0.3) == [], "one call end"


def analog_call(rig: Rig) -> None:
    rig.modem.send(CID_BLOCK)
    rig.wait(Ring)
    assert rig.wait(CallerId).number == "4951234567"
    rig.line.answer()
    rig.wait(CallConnected)
    rig.modem.send(b"\x10b")  # the busy tone: the far end put the phone down
    assert rig.wait(CallEnded).reason == "busy tone"
    rig.until(lambda: rig.line.state == "idle" and rig.modem.commands[-1] == b"AT+VLS=0")


def test_without_dsci_a_caller_giving_up_is_seen_in_the_call_list() -> None:
    rig = Rig("sim7600", modem_script("sim7600", {"AT^DSCI=1": ERROR}), name="gsm1")
    try:
        rig.wait(NetworkRegistration)
        rig.modem.script[b"AT+CLCC"] = r('+CLCC: 1,1,4,0,0,"+79161234567",145', "OK")
        rig.modem.send(r("RING", CALLER))
        rig.wait(CallerId)
        rig.until(lambda: rig.modem.commands.count(b"AT+CLCC") >= 2)
        assert rig.line.state == "ringing"
        rig.modem.script[b"AT+CLCC"] = OK  # gone before anyone answered
        assert rig.wait(CallEnded, timeout=3).reason == "caller gave up" and rig.line.state == "idle"
    finally:
        rig.close()


@pytest.mark.parametrize(("dialect", "refused", "reply", "feature"), [
    ("sim7600", CPMS, r("+CME ERROR: 4"), "SMS storage"),  # operation not supported, with AT+CMEE=1
    ("huawei", "AT+CREG=2", r("COMMAND NOT SUPPORT"), "registration URC"),  # Huawei's own word for ERROR
])
def test_other_words_for_no_are_refusals_too(dialect: str, refused: str, reply: bytes, feature: str) -> None:
    rig = Rig(dialect, modem_script(dialect, {refused: reply}), name="gsm1")
    try:
        assert rig.up.degraded == (feature,)
    finally:
        rig.close()


def test_several_refusals_name_every_feature_in_init_order() -> None:
    rig = Rig("sim7600", modem_script("sim7600", {"AT^DSCI=1": ERROR, CPMS: ERROR, "AT+CMEE=1": ERROR}),
              name="gsm1")
    try:
        assert rig.line.degraded == ("SMS storage", "call-state URC")  # CMEE: nothing lost
    finally:
        rig.close()


@pytest.mark.parametrize(("dialect", "required", "feature"), [
    ("sim7600", "AT+CLIP=1", "caller ID"), ("huawei", "AT^CVOICE?", "voice on the audio port"),
    ("ec25", "AT+QPCMV=1,0", "voice over the USB serial port"), ("usr5637", "AT+VCID=1", "caller ID"),
    ("sim800", "ATE0", "echo off")])
def test_a_required_command_refused_keeps_the_line_down_with_the_reason(
        dialect: str, required: str, feature: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hardware.modem")
    modem = ScriptedModem(modem_script(dialect, {required: ERROR}))
    events: list = []
    line = ModemLine("line1", modem.path, dialect, on_event=events.append, backoff=(0.05, 0.1), keepalive=60).start()
    try:
        deadline = time.monotonic() + 5
        while modem.commands.count(required.encode()) < 3 and time.monotonic() < deadline:  # retried with backoff
            time.sleep(0.02)
        assert modem.commands.count(required.encode()) >= 3
        assert line.state == "down" and not [e for e in events if isinstance(e, ModemUp)]
        assert line.problem == f"{required}: refused (ERROR); the line needs it for {feature}"
        said = [rec.getMessage() for rec in caplog.records if "down" in rec.getMessage()]
        assert said == [f"line line1 down: {line.problem}"], "said once, not at every retry"
    finally:
        line.stop()
        modem.close()


def test_a_refusal_is_said_once_across_reinits(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hardware.modem")
    rig = Rig("sim7600", modem_script("sim7600", {"AT^DSCI=1": ERROR}), name="gsm1",
              line_options={"backoff": (0.05, 0.1)})
    try:
        rig.wait(NetworkRegistration)
        for _ in range(2):
            rig.modem.send(r("RDY"))  # the module restarted: the line initialises it again
            assert rig.wait(ModemUp).degraded == ("call-state URC",)
            rig.wait(NetworkRegistration)
        assert rig.modem.commands.count(b"AT^DSCI=1") == 3
        refusals = [rec for rec in caplog.records if "AT^DSCI=1 refused" in rec.getMessage()]
        assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING, [r.getMessage() for r in refusals]
        assert "up without call-state URC" in refusals[0].getMessage()
        assert "+CLCC polled" in refusals[0].getMessage()
    finally:
        rig.close()


def test_without_sms_indications_stored_messages_are_read_at_each_poll() -> None:
    rig = Rig("sim7600", modem_script("sim7600", {"AT+CNMI=2,1,0,0,0": ERROR}), name="gsm1",
              line_options={"poll_every": 0.3})
    try:
        rig.wait(NetworkRegistration)
        # a message arrives; this modem announces nothing (no +CMTI)
        rig.modem.script[b"AT+CMGL=4"] = [r("+CMGL: 3,0,,31", DELIVER, "OK"), OK]
        assert rig.wait(SmsReceived, timeout=3).text == "Привет"
        assert b"AT+CMGD=3" in rig.modem.commands
    finally:
        rig.close()


def test_the_answer_to_esc_is_not_taken_for_the_answer_to_at() -> None:
    """A crash left the modem in an SMS text entry: ESC ends it and the modem answers.
    Read as the answer to AT, it would shift every result onto the next command and
    blame the wrong one for a refusal."""
    answers = {**modem_script("sim7600", {"AT^DSCI=1": ERROR}), b"\x1b": OK}
    slow = {command: (0.05, reply) for command, reply in answers.items()}  # each a moment after its command
    rig = Rig("sim7600", slow, name="gsm1", texting=True)
    try:
        assert rig.line.degraded == ("call-state URC",)
        rig.wait(NetworkRegistration)
        assert rig.modem.payloads == [] and rig.modem.commands[:2] == [b"AT", b"ATE0"]
    finally:
        rig.close()


def test_a_number_or_keys_that_would_be_commands_are_not_sent() -> None:
    """V.250 reads ';' as the end of a dial string and what follows as the next command."""
    rig = Rig("sim7600", script("sim7600"), name="gsm1")
    try:
        rig.wait(NetworkRegistration)
        before = bytes(rig.modem.raw)
        for bad in ("123;+CFUN=0", "8916\r+CFUN=0", "", "ATH"):
            with pytest.raises(Exception, match="not a number to dial"):
                rig.line.dial(bad)
        with pytest.raises(Exception, match="keys are"):
            rig.line.send_dtmf("1\rAT+CFUN=0")
        time.sleep(0.1)
        assert bytes(rig.modem.raw) == before and rig.line.state == "idle"
    finally:
        rig.close()
