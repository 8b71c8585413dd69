"""Each GSM dialect against a modem played from recorded bytes (tests/support/scripted_modem):
the exact command bytes the line sends (init, answer, audio on/off, DTMF, hang-up, SMS) and
the events it makes of the modem's recorded replies and URCs (RING + caller ID, call state,
DTMF, hang-up, SMS PDU with Cyrillic). The expected bytes are written out from the AT
manuals (SIMCom, Quectel, Huawei; 3GPP TS 27.007), not derived from the dialect tables."""
from __future__ import annotations

import threading

import pytest

from hardware.modem.events import (
    CallConnected,
    CallEnded,
    CallerId,
    Dtmf,
    NetworkRegistration,
    Ring,
    SignalQuality,
    SmsReceived,
    Validity,
)
from tests.support.modem_facts import DELIVER, FACTS, POLL, SUBMIT, Facts, r, script
from tests.support.scripted_modem import OK, Rig


@pytest.fixture(params=list(FACTS))
def rig(request):
    rig = Rig(request.param, script(request.param), name="gsm1")
    rig.dialect = request.param
    yield rig
    rig.close()


def sent_since(rig: Rig, mark: int) -> list[str]:
    return [c.decode() for c in rig.modem.commands[mark:] if c not in (b"AT", b"AT+CLCC")]


@pytest.mark.parametrize("dialect", list(FACTS))
def test_init_sequence_network_poll_and_stored_messages(dialect: str) -> None:
    facts = FACTS[dialect]
    stored = {  # one message that came while the line was down, and one that cannot be decoded
        b"AT+CMGL=4": r("+CMGL: 1,0,,31", DELIVER, "+CMGL: 2,0,,3", "00FFFF", "OK"),
        b"AT+CMGD=1": OK, b"AT+CMGD=2": OK}
    rig = Rig(dialect, {**script(dialect), **stored}, name="gsm1")
    try:
        check_init(rig, facts)
    finally:
        rig.close()


def check_init(rig: Rig, facts: Facts) -> None:
    rig.until(lambda: len(rig.modem.commands) >= 2 + len(facts.init) + len(POLL) + 2)
    assert [c.decode() for c in rig.modem.commands] == [
        "AT", "ATE0", *facts.init, "AT+CMGL=4", "AT+CMGD=1", "AT+CMGD=2", *POLL[1:]]
    assert rig.modem.raw.startswith(b"\x1bAT\rATE0\r")  # ESC first: no SMS text entry left open
    stored = rig.wait(SmsReceived)  # read and deleted; the undecodable one deleted too
    assert (stored.sender, stored.text) == ("+79161234567", "Привет")
    assert rig.wait(SignalQuality).dbm == -71
    registration = rig.wait(NetworkRegistration)
    assert registration.registered and registration.operator == "MegaFon"


def test_ring_caller_id_answer_dtmf_and_our_hangup(rig: Rig) -> None:
    facts = FACTS[rig.dialect]
    rig.wait(NetworkRegistration)
    rig.modem.send(r("RING", facts.clip))
    rig.wait(Ring)
    assert rig.wait(CallerId) == CallerId("gsm1", "+79161234567", 145, Validity.OK, "")
    mark = len(rig.modem.commands)
    rig.line.answer()
    rig.wait(CallConnected)
    assert sent_since(rig, mark) == ["ATA", *facts.after_answer]
    mark = len(rig.modem.commands)
    rig.line.send_dtmf("5")
    rig.line.hangup()
    assert sent_since(rig, mark) == [facts.dtmf_command, *facts.hangup]
    assert rig.line.state == "idle"


def test_the_far_end_hanging_up_is_one_call_end(rig: Rig) -> None:
    facts = FACTS[rig.dialect]
    in_call(rig, rig.dialect)
    mark = len(rig.modem.commands)
    rig.modem.send(facts.remote_end)
    rig.wait(CallEnded)
    assert rig.collect(0.3) == [] and rig.line.state == "idle"
    assert sent_since(rig, mark) == facts.hangup[1:]  # audio off (SIM7600: AT+CPCMREG=0), no hang-up


def test_registration_urcs_with_and_without_location() -> None:
    from hardware.modem.dialects import get_dialect

    huawei = get_dialect("huawei")
    assert huawei.parse("gsm1", '+CREG: 5,"1A2B","00C3F1"') == NetworkRegistration("gsm1", 5)
    assert huawei.parse("gsm1", "+CREG: 2") == NetworkRegistration("gsm1", 2)
    assert get_dialect("sim7600").parse("gsm1", "MISSED_CALL: 10:25AM 89161234567") == CallEnded(
        "gsm1", "caller gave up")
    # ^DSCI: id,dir,stat,type,number,toa; stat 6 is the end of the call (SIMCom's AT manual)
    assert get_dialect("sim7600").parse("gsm1", "^DSCI: 3,0,6,0,89161234567,129") == CallEnded(
        "gsm1", "remote hangup")
    assert get_dialect("sim7600").parse("gsm1", "^DSCI: 4,1,3,0,+79161234567,145").text.startswith("^DSCI")


def in_call(rig: Rig, dialect: str) -> None:
    """Up, rung, answered."""
    rig.wait(NetworkRegistration)
    rig.modem.send(r("RING", FACTS[dialect].clip))
    rig.wait(CallerId)
    rig.line.answer()
    rig.wait(CallConnected)


@pytest.fixture
def sim800():
    rig = Rig("sim800", script("sim800"), name="gsm1")
    in_call(rig, "sim800")
    yield rig
    rig.close()


def test_a_second_caller_giving_up_does_not_end_the_call(sim800: Rig) -> None:
    sim800.modem.send(r("MISSED_CALL: 10:25AM 89031234567"))
    assert sim800.collect(0.3) == [] and sim800.line.state == "active"


def test_withheld_caller(rig: Rig) -> None:
    rig.wait(NetworkRegistration)
    rig.modem.send(r("RING", '+CLIP: "",128,"",0,"",1'))
    caller = rig.wait(CallerId)
    assert caller.anonymous and caller.validity is Validity.WITHHELD


def test_outbound_call_is_connected_when_clcc_says_active(rig: Rig) -> None:
    rig.wait(NetworkRegistration)
    rig.line.dial("89161234567")
    rig.wait(CallConnected, timeout=5)
    assert b"ATD89161234567;" in rig.modem.commands


def test_sms_out_and_in_as_pdus(rig: Rig) -> None:
    rig.wait(NetworkRegistration)
    assert rig.line.send_sms("+79161234567", "Привет") == 1
    assert rig.modem.payloads == [SUBMIT]
    assert b"AT+CMGS=26\r" + SUBMIT + b"\x1a" in bytes(rig.modem.raw)
    rig.modem.send(r('+CMTI: "SM",3'))
    sms = rig.wait(SmsReceived)
    assert (sms.sender, sms.text, sms.timestamp) == ("+79161234567", "Привет", "26/11/25,19:20:00")
    rig.until(lambda: b"AT+CMGD=3" in rig.modem.commands)


def test_sim800_reports_keys_itself(sim800: Rig) -> None:
    sim800.modem.send(r("+DTMF: 7", "+DTMF: #"))
    assert [sim800.wait(Dtmf).digit, sim800.wait(Dtmf).digit] == ["7", "#"]


def test_hanging_up_while_atd_runs_still_hangs_up(rig: Rig) -> None:
    """The extension gives up at once: the hang-up waits for ATD's OK, then ends the call
    (a modem left dialling would connect a paid call to nobody)."""
    rig.wait(NetworkRegistration)
    dialer = threading.Thread(target=rig.line.dial, args=("89161234567",))
    dialer.start()
    rig.until(lambda: b"ATD89161234567;" in rig.modem.commands, timeout=2)
    rig.line.hangup()  # before the modem's OK
    dialer.join(5)
    sent = [c.decode() for c in rig.modem.commands if c not in (b"AT", b"AT+CLCC")]
    assert FACTS[rig.dialect].hangup[0] in sent[sent.index("ATD89161234567;") + 1:], sent
    assert rig.line.state == "idle"


def test_ussd_answers_in_ucs2_and_gsm_text() -> None:
    from hardware.modem.dialects import get_dialect

    sim7600 = get_dialect("sim7600")
    # "Баланс: 100 р." as a Russian operator sends it (DCS 72: UCS2)
    ucs2 = "Баланс: 100 р.".encode("utf-16-be").hex().upper()
    assert sim7600.parse("gsm1", f'+CUSD: 0,"{ucs2}",72').text == "Баланс: 100 р."
    assert sim7600.parse("gsm1", '+CUSD: 0,"Balance: 100.00 RUB",15').text == "Balance: 100.00 RUB"
    assert sim7600.parse("gsm1", '+CUSD: 1,"0031",15').text == "0031"  # 7-bit text that looks like hex
    assert sim7600.parse("gsm1", "+CUSD: 2").status == 2
