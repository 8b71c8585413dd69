"""SMS PDUs: a published SMS-DELIVER example, GSM 7-bit and UCS2 (Cyrillic) round trips,
and long messages split into parts and joined again in any order."""
from __future__ import annotations

from hardware.modem.pdu import (
    Deliver,
    Joiner,
    decode_address,
    decode_deliver,
    encode_deliver,
    encode_submit,
    gsm7_septets,
    gsm7_text,
    pack7,
    unpack7,
)


def deliver_from_submit(sender: str, submit_hex: str) -> str:
    """Turn our SMS-SUBMIT into the SMS-DELIVER the recipient's modem would show."""
    tpdu = bytes.fromhex(submit_hex[2:])
    first, da_len = tpdu[0], tpdu[2]
    rest = tpdu[2 + 2 + (da_len + 1) // 2:]  # after TP-DA: PID, DCS, VP, UDL, UD
    pid, dcs, udl, ud = rest[0], rest[1], rest[3], rest[4:]
    oa = bytes([len(sender.lstrip("+")), 0x91]) + bytes.fromhex(
        "".join((d + "F")[1] + (d + "F")[0] if len(d) == 1 else d[1] + d[0]
                for d in [sender.lstrip("+")[i:i + 2] for i in range(0, len(sender.lstrip("+")), 2)]))
    deliver = bytes([0x04 | (first & 0x40)]) + oa + bytes([pid, dcs]) + bytes.fromhex("62112451030021")
    return "00" + (deliver + bytes([udl]) + ud).hex()


def test_published_deliver_example() -> None:
    # The SMS-DELIVER example that circulates with the GSM 03.40 tutorials: "hellohello".
    msg = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert msg.text == "hellohello"
    assert msg.sender == "27838890001"
    assert msg.timestamp == "99/03/29,15:16:59"


def test_gsm7_packing_round_trip_with_extension_chars() -> None:
    text = "Price [100€] ~ {ok}"
    septets = gsm7_septets(text)
    assert gsm7_text(unpack7(pack7(septets), len(septets))) == text
    assert gsm7_septets("Привет") is None


def test_cyrillic_submit_is_ucs2_and_reads_back() -> None:
    (length, pdu), = encode_submit("+79161234567", "Привет, мир!")
    assert length == len(bytes.fromhex(pdu)) - 1
    assert "0B919761214365F7" in pdu  # +79161234567 as semi-octets
    assert decode_deliver(deliver_from_submit("+79161234567", pdu)).text == "Привет, мир!"


def test_long_messages_split_and_join_in_any_order() -> None:
    for text in ("Ж" * 150, "A" * 400, "Заказ готов. " * 20):
        parts = encode_submit("+79161234567", text, ref=42)
        assert len(parts) > 1
        decoded = [decode_deliver(deliver_from_submit("+79161234567", p)) for _, p in parts]
        assert all(d.ref == 42 and d.total == len(parts) for d in decoded)
        joiner = Joiner()
        results = [joiner.add(d) for d in reversed(decoded)]
        assert results[:-1] == [None] * (len(parts) - 1)
        assert results[-1] is not None and results[-1].text == text


def test_joiner_forgets_incomplete_messages() -> None:
    now = [0.0]
    joiner = Joiner(max_age=60, clock=lambda: now[0])
    assert joiner.add(Deliver("+7", "a", "", ref=1, total=2, seq=1)) is None
    now[0] = 120
    assert joiner.add(Deliver("+7", "b", "", ref=1, total=2, seq=2)) is None  # part 1 expired


def test_deliver_encoder_matches_the_decoder() -> None:
    for text in ("Баланс 100 руб.", "x" * 300):
        parts = [decode_deliver(p) for p in encode_deliver("+79001112233", text, ref=9)]
        joiner = Joiner()
        results = [joiner.add(p) for p in parts]
        assert results[-1].text == text and results[-1].sender == "+79001112233"


def test_addresses() -> None:
    assert decode_address(bytes.fromhex("0B919761214365F7"), 0) == ("+79161234567", 8)
