"""SMS in PDU mode (3GPP TS 23.040 / 23.038): SMS-SUBMIT encoding and SMS-DELIVER
decoding, GSM 7-bit default alphabet or UCS2 (Cyrillic), concatenated messages."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
            "]": 0x3E, "|": 0x40, "€": 0x65}
_CODE = {ch: i for i, ch in enumerate(GSM7)}
_EXT_CHAR = {v: k for k, v in GSM7_EXT.items()}


@dataclass(frozen=True)
class Deliver:
    sender: str
    text: str
    timestamp: str  # "YY/MM/DD,hh:mm:ss+TZ" as in text mode
    ref: int | None = None  # concatenation: reference, part count, part number
    total: int = 1
    seq: int = 1


# ---- alphabets ---------------------------------------------------------------------
def gsm7_septets(text: str) -> list[int] | None:
    """The text as GSM 7-bit codes, or None if it needs UCS2."""
    out: list[int] = []
    for ch in text:
        if ch in _CODE and ch != "\x1b":
            out.append(_CODE[ch])
        elif ch in GSM7_EXT:
            out += [0x1B, GSM7_EXT[ch]]
        else:
            return None
    return out


def pack7(septets: list[int], fill_bits: int = 0) -> bytes:
    value, bits = 0, fill_bits
    out = bytearray()
    for s in septets:
        value |= s << bits
        bits += 7
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    return bytes(out)


def unpack7(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    value = int.from_bytes(data, "little") >> fill_bits
    return [(value >> (7 * i)) & 0x7F for i in range(count)]


def gsm7_text(septets: list[int]) -> str:
    out, escape = [], False
    for s in septets:
        if escape:
            out.append(_EXT_CHAR.get(s, " "))
            escape = False
        elif s == 0x1B:
            escape = True
        else:
            out.append(GSM7[s])
    return "".join(out)


# ---- addresses ---------------------------------------------------------------------
def encode_address(number: str) -> bytes:
    international = number.startswith("+")
    digits = number.lstrip("+")
    if not digits.isdigit():
        raise ValueError(f"not a phone number: {number!r}")
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), 0x91 if international else 0x81]) + bytes.fromhex(swapped)


def decode_address(data: bytes, pos: int) -> tuple[str, int]:
    """(number, next position) of a TP-OA/TP-DA field starting at pos."""
    length, kind = data[pos], data[pos + 1]
    octets = (length + 1) // 2
    raw = data[pos + 2:pos + 2 + octets]
    if kind & 0x70 == 0x50:  # alphanumeric sender ("Beeline", "MTS")
        text = gsm7_text(unpack7(raw, length * 4 // 7))
        return text, pos + 2 + octets
    digits = "".join(f"{b & 0x0F:x}{b >> 4:x}" for b in raw)[:length].upper()
    return ("+" if kind & 0x70 == 0x10 else "") + digits, pos + 2 + octets


# ---- SMS-SUBMIT / SMS-DELIVER encoding ------------------------------------------------
def _user_data(text: str, ref: int) -> tuple[int, list[tuple[bool, int, bytes]]]:
    """(DCS, [(has UDH, TP-UDL, TP-UD), ...]): one part, or several with a concatenation header."""
    septets = gsm7_septets(text)
    if septets is not None:
        parts: list[list[int]] = _split(septets, 160, 153)
        dcs = 0x00
    else:
        units = text.encode("utf-16-be")
        size = 134 if len(units) > 140 else 140  # 67 characters a part, or 70 alone
        parts = [list(units[i:i + size]) for i in range(0, len(units), size)]
        dcs = 0x08
    out = []
    for seq, part in enumerate(parts, 1):
        udh = bytes([5, 0x00, 3, ref & 0xFF, len(parts), seq]) if len(parts) > 1 else b""
        if dcs == 0x00:
            fill = (7 - (len(udh) * 8) % 7) % 7 if udh else 0
            out.append((bool(udh), len(part) + (len(udh) * 8 + fill) // 7, udh + pack7(part, fill)))
        else:
            out.append((bool(udh), len(udh) + len(part), udh + bytes(part)))
    return dcs, out


def encode_submit(number: str, text: str, ref: int = 0) -> list[tuple[int, str]]:
    """PDUs to send with AT+CMGS=<length>: [(length without SMSC, hex PDU), ...]."""
    dcs, parts = _user_data(text, ref)
    out = []
    for has_udh, udl, ud in parts:
        first = 0x11 | (0x40 if has_udh else 0)  # SMS-SUBMIT, relative validity period, UDHI
        tpdu = bytes([first, 0x00]) + encode_address(number) + bytes([0x00, dcs, 0xAA, udl]) + ud
        out.append((len(tpdu), "00" + tpdu.hex().upper()))
    return out


def encode_deliver(sender: str, text: str, ref: int = 0, when: str = "62112416300021") -> list[str]:
    """SMS-DELIVER PDUs as a network would hand them to a modem (the simulator uses this);
    `when` is TP-SCTS in semi-octets."""
    dcs, parts = _user_data(text, ref)
    out = []
    for has_udh, udl, ud in parts:
        first = 0x04 | (0x40 if has_udh else 0)  # SMS-DELIVER, no more messages, UDHI
        tpdu = bytes([first]) + encode_address(sender) + bytes([0x00, dcs]) + bytes.fromhex(when)
        out.append("00" + (tpdu + bytes([udl]) + ud).hex().upper())
    return out


def _split(septets: list[int], single: int, multi: int) -> list[list[int]]:
    if len(septets) <= single:
        return [septets]
    parts, i = [], 0
    while i < len(septets):
        end = min(i + multi, len(septets))
        if end < len(septets) and septets[end - 1] == 0x1B:
            end -= 1  # never split an escape from its character
        parts.append(septets[i:end])
        i = end
    return parts


# ---- SMS-DELIVER ---------------------------------------------------------------------
def decode_deliver(hex_pdu: str) -> Deliver:
    data = bytes.fromhex(hex_pdu.strip())
    pos = 1 + data[0]  # skip the SMSC address
    first = data[pos]
    if first & 0x03 != 0x00:
        raise ValueError("not an SMS-DELIVER PDU")
    sender, pos = decode_address(data, pos + 1)
    dcs = data[pos + 1]
    stamp = data[pos + 2:pos + 9].hex()
    swapped = "".join(stamp[i + 1] + stamp[i] for i in range(0, 14, 2))
    timestamp = f"{swapped[0:2]}/{swapped[2:4]}/{swapped[4:6]},{swapped[6:8]}:{swapped[8:10]}:{swapped[10:12]}"
    udl, ud = data[pos + 9], data[pos + 10:]
    ref, total, seq, udh_len = None, 1, 1, 0
    if first & 0x40:
        udh_len = ud[0] + 1
        ref, total, seq = _concat_info(ud[1:udh_len])
    alphabet = (dcs >> 2) & 0x03 if dcs & 0xC0 == 0 else (1 if dcs & 0x04 else 0)
    if alphabet == 2:
        text = ud[udh_len:udl].decode("utf-16-be", errors="replace")
    elif alphabet == 1:
        text = ud[udh_len:udl].decode("latin-1")
    else:
        skip = (udh_len * 8 + 6) // 7
        text = gsm7_text(unpack7(ud, udl)[skip:])
    return Deliver(sender, text, timestamp, ref, total, seq)


def _concat_info(ies: bytes) -> tuple[int | None, int, int]:
    i = 0
    while i + 1 < len(ies):
        iei, size = ies[i], ies[i + 1]
        body = ies[i + 2:i + 2 + size]
        if iei == 0x00 and size == 3:
            return body[0], body[1], body[2]
        if iei == 0x08 and size == 4:
            return (body[0] << 8) | body[1], body[2], body[3]
        i += 2 + size
    return None, 1, 1


@dataclass
class Joiner:
    """Joins concatenated parts; parts that never complete are given up after max_age."""

    max_age: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _pending: dict[tuple[str, int, int], tuple[float, dict[int, str]]] = field(default_factory=dict)

    def add(self, part: Deliver) -> Deliver | None:
        if part.ref is None or part.total <= 1:
            return part
        now = self.clock()
        self._pending = {k: v for k, v in self._pending.items() if now - v[0] < self.max_age}
        key = (part.sender, part.ref, part.total)
        started, texts = self._pending.setdefault(key, (now, {}))
        texts[part.seq] = part.text
        if len(texts) < part.total:
            return None
        del self._pending[key]
        text = "".join(texts[i] for i in sorted(texts))
        return Deliver(part.sender, text, part.timestamp, part.ref, part.total, part.total)
