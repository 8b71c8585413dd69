from hardware.modem.dle import DleDecoder, end_of_transmit, shield


def test_shielding_round_trip_even_split_mid_pair() -> None:
    audio = bytes(range(256)) * 4
    wire = shield(audio) + bytes([0x10, ord("5")]) + bytes([0x10, ord("b")]) + end_of_transmit()
    decoder = DleDecoder()
    got, events = bytearray(), []
    for i in range(0, len(wire), 7):  # odd chunks split DLE pairs across reads
        a, e = decoder.feed(wire[i:i + 7])
        got += a
        events += e
    assert bytes(got) == audio
    assert events == ["dtmf 5", "busy", "end"]


def test_unknown_codes_are_reported_not_fatal() -> None:
    audio, events = DleDecoder().feed(b"\x10Z\x10R")
    assert audio == b"" and events == ["unknown 'Z'", "ring"]
