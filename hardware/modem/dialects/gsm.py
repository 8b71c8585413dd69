"""GSM/LTE modules. Command facts: the project's shared reference, section 3."""
from __future__ import annotations

from hardware.modem.dialects.base import Dialect

# AT+CCWA=0,0,1: no call waiting. A line carries one call; a second caller hears busy from
# the network at once instead of ringing unheard (and its URCs cannot end the first call).
# AT+CPMS: every message on the SIM, so +CMTI indexes and AT+CMGL=4 speak of one storage.
COMMON = ("AT+CMEE=1", "AT+CLIP=1", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"', "AT+CNMI=2,1,0,0,0", "AT+CREG=1",
          "AT+CCWA=0,0,1")

# SIM800: voice is analog (MIC/SPK pins), so no PCM here; DTMF from the module (+DTMF:).
SIM800 = Dialect(
    name="sim800", init=(*COMMON, "AT+DDET=1,1000,0"), hangup="ATH",
    dtmf='AT+VTS="{digit}"')

# The PCM modules pass raw audio and report no DTMF (chan_dongle/chan_quectel detect it
# in-band), so the line runs its own detector on it.
# SIM7600: PCM on the USB audio port once AT+CPCMREG=1 is sent after the call connects.
SIM7600 = Dialect(
    name="sim7600", init=(*COMMON, "AT^DSCI=1"), audio_on=("AT+CPCMREG=1",),
    audio_off=("AT+CPCMREG=0",), pcm=True, inband_dtmf=True,
    connected_urcs=("VOICE CALL: BEGIN",), ended_urcs=("VOICE CALL: END", "NO CARRIER", "BUSY", "NO ANSWER"),
    extra_urcs=("^DSCI:",))

# Quectel EC25: voice over the USB serial port; the mode must be reset before it is set.
EC25 = Dialect(
    name="ec25", init=(*COMMON, "AT+QPCMV=0", "AT+QPCMV=1,0"), pcm=True, inband_dtmf=True, extra_urcs=("+QIND:",))

# Huawei E1550 class: ^CONN/^CEND call state, voice to the audio port after AT^DDSETEX=2.
HUAWEI = Dialect(
    name="huawei", init=("AT+CMEE=0", "AT^CVOICE?", "AT+CLIP=1", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"',
                         "AT+CNMI=2,1,0,2,0", "AT+CREG=2", "AT+CSSN=1,1", "AT+CCWA=0,0,1"),
    audio_on=("AT^DDSETEX=2",), pcm=True, inband_dtmf=True, dtmf="AT^DTMF=1,{digit}",
    connected_urcs=("^CONN:",), ended_urcs=("^CEND:", "NO CARRIER", "BUSY", "NO ANSWER"),
    extra_urcs=("^ORIG:", "^CONF:", "^RSSI:", "^MODE:", "^SRVST:", "^SIMST:"))
