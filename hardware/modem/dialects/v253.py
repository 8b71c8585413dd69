"""Analog lines through a V.253 voice modem (USR5637 class). Command facts: ITU-T V.253
and the USR5637's command reference.

Voice mode (AT+FCLASS=8) with 8-bit linear audio at 8 kHz (AT+VSM=128,8000), silence
detection off (AT+VSD=128,0) and caller ID as a block of text lines (AT+VCID=1). Calls:
AT+VLS=1 takes the line off-hook, AT+VTR opens full-duplex audio in the AT port, DLE !
DLE ETX ends it, AT+VLS=0 hangs up. ATD in voice mode answers VCON when the number is
dialled: an analog line has no answer supervision, so that is "connected". DTMF comes as
DLE digit codes and goes out as tones in the audio; the far end hanging up is only heard
(busy tone), or reported as DLE b / DLE d.
"""
from __future__ import annotations

from hardware.modem.dialects.base import Dialect, need, nice, spare
from hardware.modem.dle import END_RX, END_TX

# Required: results as words, caller ID, voice mode and the 8-bit 8 kHz format the line
# converts. ATZ only restores the stored profile (the steps after it set what the line
# needs); silence detection left on may report silence (ignored) or end the stream.
USR5637 = Dialect(
    name="usr5637",
    init=(spare("ATZ", "profile reset", "the modem's current settings; the steps after it set what the line needs"),
          need("ATE0", "echo off"), need("ATV1", "results as words"), need("AT+VCID=1", "caller ID"),
          need("AT+FCLASS=8", "voice mode"), need("AT+VSM=128,8000", "8-bit linear audio at 8 kHz"),
          nice("AT+VSD=128,0", "silence detection off",
               "silence reports are ignored; a modem that ends the stream on silence ends the call")),
    answer=("AT+VLS=1",), hangup="AT+VLS=0", dial="ATD{number};", dtmf="",
    dial_setup=("AT+VLS=1",), stream_command="AT+VTR", stream_end=END_RX + END_TX,
    network=False, cid_block=True, ring_timeout=8.0,
    connected_urcs=("VCON",), ended_urcs=("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"),
    extra_urcs=("DATE", "TIME", "NMBR", "NAME", "MESG"))
