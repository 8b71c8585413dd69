"""Analog lines through a V.253 voice modem (USR5637 class). Command facts: the project's
shared reference, section 3.4.

Voice mode (AT+FCLASS=8) with 8-bit linear audio at 8 kHz (AT+VSM=128,8000), silence
detection off (AT+VSD=128,0) and caller ID as a block of text lines (AT+VCID=1). Calls:
AT+VLS=1 takes the line off-hook, AT+VTR opens full-duplex audio in the AT port, DLE !
DLE ETX ends it, AT+VLS=0 hangs up. ATD in voice mode answers VCON when the number is
dialled: an analog line has no answer supervision, so that is "connected". DTMF comes as
DLE digit codes and goes out as tones in the audio; the far end hanging up is only heard
(busy tone), or reported as DLE b / DLE d.
"""
from __future__ import annotations

from hardware.modem.dialects.base import Dialect
from hardware.modem.dle import END_RX, END_TX

USR5637 = Dialect(
    name="usr5637",
    init=("ATZ", "ATE0", "ATV1", "AT+VCID=1", "AT+FCLASS=8", "AT+VSM=128,8000", "AT+VSD=128,0"),
    answer=("AT+VLS=1",), hangup="AT+VLS=0", dial="ATD{number};", dtmf="",
    dial_setup=("AT+VLS=1",), stream_command="AT+VTR", stream_end=END_RX + END_TX,
    network=False, cid_block=True, ring_timeout=8.0,
    connected_urcs=("VCON",), ended_urcs=("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"),
    extra_urcs=("DATE", "TIME", "NMBR", "NAME", "MESG"))
