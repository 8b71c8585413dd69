"""GSM/LTE modules. Command facts: the vendors' AT manuals
(SIMCom SIM800/SIM7600, Quectel EC25, Huawei E1550) and 3GPP TS 27.007.

Each init step is required (need: caller ID, the voice path) or optional with the
feature it brings and the line's fallback when a firmware refuses it (nice; spare when
nothing the line uses is lost). The line comes up without the optional ones."""
from __future__ import annotations

from hardware.modem.dialects.base import (
    CALL_STATE_URC,
    DTMF_REPORTS,
    SMS_INDICATIONS,
    Dialect,
    Step,
    need,
    nice,
    spare,
)

CALLER_ID = need("AT+CLIP=1", "caller ID")
PDU_MODE = nice("AT+CMGF=0", "SMS PDU mode", "the modem's default format, PDU by 3GPP 27.005")
# every message on the SIM, so +CMTI indexes and AT+CMGL=4 speak of one storage
SMS_STORAGE = nice('AT+CPMS="SM","SM","SM"', "SMS storage", "the modem's default storage")
REGISTRATION = "registration URC"
REG_FALLBACK = "plain registration polling (AT+CREG?)"
# AT+CCWA=0,0,1: no call waiting. A line carries one call; a second caller hears busy from
# the network at once instead of ringing unheard (and its URCs cannot end the first call).
NO_CALL_WAITING = nice("AT+CCWA=0,0,1", "call waiting off",
                       "a second caller rings unheard until they give up; the call goes on")


def sms_urc(command: str) -> Step:
    return nice(command, SMS_INDICATIONS, "stored messages listed (AT+CMGL=4) at every network poll")


COMMON: tuple[Step, ...] = (
    spare("AT+CMEE=1", "error codes", "plain ERROR results; the line reads both"),
    CALLER_ID, PDU_MODE, SMS_STORAGE, sms_urc("AT+CNMI=2,1,0,0,0"), nice("AT+CREG=1", REGISTRATION, REG_FALLBACK),
    NO_CALL_WAITING)

# SIM800: voice is analog (MIC/SPK pins), so no PCM here; DTMF from the module (+DTMF:).
SIM800 = Dialect(
    name="sim800", init=(*COMMON, nice("AT+DDET=1,1000,0", DTMF_REPORTS,
                                       "in-band detection on a sound-card line; without one keys go unheard")),
    hangup="ATH", dtmf='AT+VTS="{digit}"')

# The PCM modules pass raw audio and report no DTMF (chan_dongle/chan_quectel detect it
# in-band), so the line runs its own detector on it.
# SIM7600: PCM on the USB audio port once AT+CPCMREG=1 is sent after the call connects.
# Its call-end URCs are not reliable: ^DSCI (or, refused, a +CLCC poll) tells the call state.
CALL_STATE = nice("AT^DSCI=1", CALL_STATE_URC, "+CLCC polled during a call to notice the far end hanging up")
SIM7600 = Dialect(
    name="sim7600", init=(*COMMON, CALL_STATE),
    audio_on=("AT+CPCMREG=1",), audio_off=("AT+CPCMREG=0",), pcm=True, inband_dtmf=True,
    connected_urcs=("VOICE CALL: BEGIN",), ended_urcs=("VOICE CALL: END", "NO CARRIER", "BUSY", "NO ANSWER"),
    extra_urcs=("^DSCI:",))

# Quectel EC25: voice over the USB serial port; the mode must be reset before it is set
# (a firmware refusing the reset when no mode is active still takes the set).
EC25 = Dialect(
    name="ec25", init=(*COMMON, spare("AT+QPCMV=0", "voice mode reset", "AT+QPCMV=1,0 sets the mode directly"),
                       need("AT+QPCMV=1,0", "voice over the USB serial port")),
    pcm=True, inband_dtmf=True, extra_urcs=("+QIND:",))

# Huawei E1550 class: ^CONN/^CEND call state, voice to the audio port after AT^DDSETEX=2;
# AT^CVOICE? answers ERROR on firmware without voice.
HUAWEI = Dialect(
    name="huawei", init=(
        spare("AT+CMEE=0", "plain error results", "+CME ERROR codes; the line reads both"),
        need("AT^CVOICE?", "voice on the audio port"), CALLER_ID, PDU_MODE, SMS_STORAGE,
        sms_urc("AT+CNMI=2,1,0,2,0"), nice("AT+CREG=2", REGISTRATION, REG_FALLBACK),
        spare("AT+CSSN=1,1", "supplementary service notices", "none needed: the line does not act on them"),
        NO_CALL_WAITING),
    audio_on=("AT^DDSETEX=2",), pcm=True, inband_dtmf=True, dtmf="AT^DTMF=1,{digit}",
    connected_urcs=("^CONN:",), ended_urcs=("^CEND:", "NO CARRIER", "BUSY", "NO ANSWER"),
    extra_urcs=("^ORIG:", "^CONF:", "^RSSI:", "^MODE:", "^SRVST:", "^SIMST:"))
