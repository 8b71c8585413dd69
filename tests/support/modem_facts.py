"""What each dialect's modem is sent and answers, written out from the AT manuals
(SIMCom, Quectel, Huawei; 3GPP TS 27.007), not derived from the dialect tables: the recorded-bytes tests
(tests/unit/modem) play these on a scripted modem."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.modem.dle import END_RX, END_TX
from tests.support.scripted_modem import OK


def r(*lines: str) -> bytes:
    """What a modem sends: each line framed by CR LF."""
    return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)


@dataclass
class Facts:
    init: list[str]  # after AT and ATE0
    creg_reply: str
    clip: str
    answer_reply: bytes
    after_answer: list[str]  # what the line sends once the call is up
    dtmf_command: str
    hangup: list[str]
    remote_end: bytes


COMMON = ["AT+CMEE=1", "AT+CLIP=1", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"', "AT+CNMI=2,1,0,0,0", "AT+CREG=1",
          "AT+CCWA=0,0,1"]
FACTS = {
    "sim800": Facts(COMMON + ["AT+DDET=1,1000,0"], "+CREG: 1,1", '+CLIP: "+79161234567",145,"",0,"",0',
                    OK, [], 'AT+VTS="5"', ["ATH"], r("NO CARRIER")),
    "sim7600": Facts(COMMON + ["AT^DSCI=1"], "+CREG: 1,1", '+CLIP: "+79161234567",145,,,,0',
                     r("OK", "VOICE CALL: BEGIN"), ["AT+CPCMREG=1"], "AT+VTS=5", ["AT+CHUP", "AT+CPCMREG=0"],
                     r("VOICE CALL: END: 000012", "NO CARRIER")),
    "ec25": Facts(COMMON + ["AT+QPCMV=0", "AT+QPCMV=1,0"], "+CREG: 1,5", '+CLIP: "+79161234567",145,"",0,"",0',
                  OK, [], "AT+VTS=5", ["AT+CHUP"], r("NO CARRIER")),
    "huawei": Facts(["AT+CMEE=0", "AT^CVOICE?", "AT+CLIP=1", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"',
                     "AT+CNMI=2,1,0,2,0", "AT+CREG=2",
                     "AT+CSSN=1,1", "AT+CCWA=0,0,1"], '+CREG: 2,1,"1A2B","00C3F1"', '+CLIP: "+79161234567",145,,,,0',
                    r("OK", "^CONN:1,0"), ["AT^DDSETEX=2"], "AT^DTMF=1,5", ["AT+CHUP"], r("^CEND:1,12,104,16")),
}
POLL = ["AT+CMGL=4", "AT+CSQ", "AT+COPS?", "AT+CREG?"]  # stored messages, then the network
# SMS-SUBMIT of "Привет" to +79161234567 (3GPP 23.040: UCS2, relative validity 4 days),
# and the SMS-DELIVER a network hands over for the same text, through SMSC +79168999100
SUBMIT = b"0011000B919761214365F70008AA0C041F04400438043204350442"
DELIVER = "07919761989901F0040B919761214365F70008621152910200210C041F04400438043204350442"


def script(dialect: str) -> dict:
    facts = FACTS[dialect]
    out: dict = {c.encode(): OK for c in ["AT", "ATE0", *facts.init]}
    out.update({
        b"AT^CVOICE?": r("^CVOICE:0,8000,16,20", "OK"),
        b"AT+CSQ": r("+CSQ: 21,99", "OK"),
        b"AT+COPS?": r('+COPS: 0,0,"MegaFon",7', "OK"),
        b"AT+CREG?": r(facts.creg_reply, "OK"),
        b"ATA": facts.answer_reply,
        b"AT+CLCC": r('+CLCC: 1,0,0,0,0,"89161234567",129', "OK"),
        b"ATD89161234567;": (0.3, OK),  # ATD takes its time
        b"AT+CMGS=26": b"\r\n> ",
        b"\x1a": r("+CMGS: 7", "OK"),
        b"AT+CMGR=3": r("+CMGR: 0,,31", DELIVER, "OK"),
        b"AT+CMGD=3": OK,
        b"AT+CMGL=4": OK,  # no messages stored
    })
    for command in [*facts.after_answer, facts.dtmf_command, *facts.hangup]:
        out[command.encode()] = OK
    return out


# ---- the V.253 voice modem (usr5637) ----
PREAMBLE = END_RX + END_TX  # ends a stream the modem may still be in; no CR: no command line of its own
INIT = [b"AT", b"ATE0", b"ATZ", b"ATE0", b"ATV1", b"AT+VCID=1", b"AT+FCLASS=8", b"AT+VSM=128,8000", b"AT+VSD=128,0"]


def v253_script(extra: dict[bytes, bytes]) -> dict:
    return {b"AT": OK, **{c: OK for c in INIT}, b"AT+VLS=1": OK, b"AT+VLS=0": OK,
            b"AT+VTR": b"\r\nCONNECT\r\n", **extra}
