"""V.253 pieces on recorded bytes: the RING / caller-ID block sequences, 8-bit linear
conversion, DLE stream splitting, and the AT channel's stream mode (CONNECT, audio with a
literal 0x10, DLE events, DLE ETX + OK back to command mode) over an in-memory port."""
from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from hardware.modem.atchannel import AtChannel, AtError
from hardware.modem.callerid import V253Rings
from hardware.modem.dialects import get_dialect
from hardware.modem.dle import END_RX, END_TX, DleDecoder, shield
from hardware.modem.events import CallerId, Ring, Validity
from hardware.modem.voice import dtmf_burst, from_u8, to_u8


def feed_all(rings: V253Rings, lines: list[str]) -> list[list]:
    return [rings.feed(text)[0] for text in lines]


def test_ring_block_ring_gives_ring_then_caller_id_on_the_name_line() -> None:
    rings = V253Rings("fxo1")
    got = feed_all(rings, ["RING", "DATE = 0321", "TIME = 1405", "NMBR = 8055554567", "NAME = JOHN DOE", "RING"])
    assert got == [[Ring("fxo1")], [], [], [], [CallerId("fxo1", "8055554567", 129, Validity.OK, "JOHN DOE")],
                   [Ring("fxo1")]]


def test_no_space_form_and_withheld_and_unavailable() -> None:
    rings = V253Rings("fxo1")
    got = feed_all(rings, ["RING", "DATE=0801", "TIME=0930", "NMBR=P", "NAME=P"])
    assert got[-1] == [CallerId("fxo1", "", 129, Validity.WITHHELD, "")]
    rings.reset()
    got = feed_all(rings, ["RING", "DATE=0801", "NMBR = O", "NAME = O"])
    assert got[-1][0].validity is Validity.UNAVAILABLE and got[-1][0].anonymous


def test_block_without_name_is_reported_at_the_next_ring_or_other_line() -> None:
    rings = V253Rings("fxo1")
    feed_all(rings, ["RING", "DATE = 1124", "TIME = 1530", "NMBR = 4951234567"])
    events, used = rings.feed("RING")
    assert used and events == [CallerId("fxo1", "4951234567"), Ring("fxo1")]
    rings.reset()
    feed_all(rings, ["RING", "NMBR = 4951234567"])
    events, used = rings.feed("OK")  # not a block line: reported, and left for the caller
    assert not used and events == [CallerId("fxo1", "4951234567")]
    assert rings.feed("RING") == ([Ring("fxo1")], True)  # one CallerId per call


def test_second_ring_without_block_is_an_anonymous_caller() -> None:
    rings = V253Rings("fxo1")
    assert rings.feed("RING") == ([Ring("fxo1")], True)
    events, _ = rings.feed("RING")
    assert events == [CallerId("fxo1", "", 129, Validity.UNAVAILABLE), Ring("fxo1")]
    assert rings.feed("RING")[0] == [Ring("fxo1")]


def test_unknown_tags_are_kept_in_the_block() -> None:
    rings = V253Rings("fxo1")
    feed_all(rings, ["RING", "MESG = 060342", "NMBR = 4951234567"])
    assert rings.feed("NAME = SHOP")[0][0].name == "SHOP"


def test_eight_bit_linear_conversion() -> None:
    samples = np.array([0, 32767, -32768, -28672, 256, -256, 100], np.int16)
    assert to_u8(samples) == bytes([0x80, 0xFF, 0x00, 0x10, 0x81, 0x7F, 0x80])
    assert to_u8(samples.astype("<i2").tobytes()) == to_u8(samples)
    assert list(from_u8(bytes([0x80, 0x10, 0xFF, 0x00]))) == [0, -28672, 127 * 256, -32768]
    tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(800) / 8000)).astype(np.int16)
    assert np.max(np.abs(from_u8(to_u8(tone)).astype(int) - tone)) <= 128


def test_dtmf_burst_is_80_ms_tone_and_80_ms_gap_per_digit() -> None:
    burst = dtmf_burst("12")
    assert len(burst) == 2 * 1280
    assert np.any(burst[:640]) and not np.any(burst[640:1280]) and np.any(burst[1280:1920])


def test_dle_split_stops_at_the_end_of_the_stream() -> None:
    decoder = DleDecoder()
    audio, events, rest = decoder.split(b"\x80\x10\x10\x81\x10")
    assert (audio, events, rest) == (b"\x80\x10\x81", [], None)
    audio, events, rest = decoder.split(b"5\x82\x10b\x10\x03\r\nOK\r\n")
    assert (audio, events, rest) == (b"\x82", ["dtmf 5", "busy", "end"], b"\r\nOK\r\n")
    assert DleDecoder().feed(END_RX)[1] == ["end receive"]


def test_usr5637_dialect() -> None:
    d = get_dialect("usr5637")
    assert d.commands == ("ATZ", "ATE0", "ATV1", "AT+VCID=1", "AT+FCLASS=8", "AT+VSM=128,8000", "AT+VSD=128,0")
    assert [s.command for s in d.init if not s.required] == ["ATZ", "AT+VSD=128,0"]  # the rest: a line needs them
    assert d.stream_command == "AT+VTR" and d.stream_end == b"\x10!\x10\x03"
    assert not d.network and not d.pcm and not d.inband_dtmf
    assert all(d.is_urc(t) for t in ("RING", "DATE = 0321", "DATE=0801", "NMBR = P", "NAME = X", "VCON"))
    assert d.parse("fxo1", "NO DIALTONE").reason == "no dial tone"
    # in-band detection only where the modem passes raw PCM and reports no digits itself
    assert [n for n in ("sim800", "sim7600", "ec25", "huawei", "usr5637") if get_dialect(n).inband_dtmf] == \
        ["sim7600", "ec25", "huawei"]


class MemPort:
    """A serial port in memory: the test decides exactly which chunks the reader gets."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.written = bytearray()
        self.on_write = lambda data: None

    def read(self, size: int = 1) -> bytes:
        try:
            return self.chunks.get(timeout=0.05)
        except queue.Empty:
            return b""

    def write(self, data: bytes) -> int:
        self.written += data
        self.on_write(bytes(data))
        return len(data)

    def close(self) -> None:
        pass


@pytest.fixture
def port_and_channel():
    port = MemPort()
    urcs: list[str] = []
    ended: list[bool] = []
    channel = AtChannel(port, urcs.append, on_stream_end=lambda: ended.append(True)).start()
    yield port, channel, urcs, ended
    channel.close()


def test_stream_mode_connect_audio_events_and_modem_end_in_one_chunk(port_and_channel) -> None:
    port, channel, urcs, ended = port_and_channel
    got: list[tuple[bytes, list[str]]] = []
    audio = bytes([0x80, 0x10, 0x7F, 0x10, 0x81])
    port.on_write = lambda data: port.chunks.put(
        b"\r\nCONNECT\r\n" + shield(audio) + b"\x10" + b"5" + END_TX + b"\r\nOK\r\n") if data == b"AT+VTR\r" else None
    response = channel.command("AT+VTR", stream=lambda a, e: got.append((a, e)))
    assert response.final == "CONNECT"
    for _ in range(40):
        if ended:
            break
        threading.Event().wait(0.02)
    assert b"".join(a for a, _ in got) == audio
    assert [e for _, events in got for e in events] == ["dtmf 5"]
    assert ended == [True] and not channel.streaming  # the modem ended the stream by itself
    assert urcs == ["OK"]  # its OK came in command mode


def test_stream_mode_keeps_commands_out_and_host_ends_it(port_and_channel) -> None:
    port, channel, urcs, ended = port_and_channel
    got = bytearray()
    port.on_write = lambda data: port.chunks.put(b"\r\nCONNECT\r\n") if data == b"AT+VTR\r" else None
    channel.command("AT+VTR", stream=lambda a, e: got.extend(a))
    assert channel.streaming
    with pytest.raises(AtError, match="streaming"):
        channel.command("AT", timeout=0.2)
    channel.write_stream(shield(bytes([0x10, 0x80])))
    assert port.written.endswith(b"AT+VTR\r\x10\x10\x80")
    port.chunks.put(bytes([0x80] * 5) + b"\x10")  # a DLE pair split across reads
    port.on_write = lambda data: port.chunks.put(b"\x10" + b"\x81" + END_TX + b"\r\nOK\r\n")
    assert channel.end_stream(END_RX + END_TX).final == "OK"
    assert port.written.endswith(b"\x10!\x10\x03")
    assert bytes(got) == bytes([0x80] * 5 + [0x10, 0x81])
    assert not channel.streaming and ended == []  # asked for: no "modem ended it" callback
    channel.write_stream(b"\x80")  # late audio after the end is dropped, not sent as a command
    assert port.written.endswith(b"\x10!\x10\x03")
    port.on_write = lambda data: port.chunks.put(b"\r\nOK\r\n")
    assert channel.command("AT+VLS=0").ok
