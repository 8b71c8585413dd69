"""A pty modem simulator speaking the GSM dialects byte for byte, with a PCM audio port,
and the V.253 voice modem (usr5637: audio in the AT port, see sim_v253), so everything
above the serial port runs unchanged without hardware.

The PBX opens `sim.port` (and `sim.audio_port`) like /dev/ttyUSB2: stable symlinks to the
current ptys, so an "unplugged" modem comes back under the same name, as USB does.

Other firmware: `refuse` names commands answered ERROR (a modem lacking them); the line
meets them at its next init (fault "reset"). A SIM7600 that refused AT^DSCI=1 plays the
worst firmware SIMCom's manual allows for: nothing at all when the far end hangs up.
"""
from __future__ import annotations

import os
import select
import tempfile
import threading
import time
import tty
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hardware.modem.audioport import FRAME_BYTES
from hardware.modem.dialects import get_dialect
from hardware.modem.pdu import encode_deliver
from hardware.modem.sim_v253 import SimVoice


class _Pty:
    def __init__(self, link: Path) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line discipline until (and after) the PBX opens it
        self.slave_name = os.ttyname(slave)
        self._slave = slave  # kept open so the pty survives between the PBX's opens
        tmp = link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.slave_name)
        tmp.replace(link)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


CAPTURE_LIMIT = 60 * 16000  # bytes: the last minute of the PBX's audio is what checks read


class SimModem:
    def __init__(self, dialect: str = "sim7600", name: str = "gsm1", *, operator: str = "MegaFon",
                 rssi: int = 21, directory: Path | None = None, busy_dle: bool = False,
                 refuse: Iterable[str] = ()) -> None:
        self.dialect = get_dialect(dialect)
        self.name = name
        self.operator, self.rssi = operator, rssi
        self.dir = Path(directory or tempfile.mkdtemp(prefix="pbx-sim-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = str(self.dir / f"{name}-at")
        self.audio_port = str(self.dir / f"{name}-audio") if self.dialect.pcm else None
        self.echo = True
        self.state = "idle"  # idle, ringing, dialing, active
        self.audio_on = False
        self.frozen = False
        self.delay = 0.0
        self.refused = {command.upper() for command in refuse}  # answered ERROR
        self.call_state_urc = False  # SIM7600 ^DSCI, on after AT^DSCI=1
        self.caller: tuple[str, bool] = ("", False)
        self.caller_name = ""
        # V.253 voice modem: no audio port, the audio is in the AT stream during AT+VTR
        self.voice = SimVoice(self, busy_dle) if self.dialect.stream_command else None
        self.dialed: list[str] = []
        self.sent_dtmf: list[str] = []
        self.sent_sms: list[str] = []  # hex PDUs the PBX sent with AT+CMGS
        self.ussd_reply = "Balance: 100.00 RUB"
        self._inbox: dict[int, str] = {}
        self._sms_ref = 0
        self._awaiting_pdu = False
        self._captured = bytearray()
        self._inject = bytearray()
        self._lock = threading.RLock()
        self._running = False
        self._at: _Pty | None = None
        self._audio: _Pty | None = None
        self._next_ring = 0.0
        self._call_started = 0.0
        self.last_ring_at = 0.0  # wall-clock time the first RING + caller ID of a call went out

    # ---- life cycle -----------------------------------------------------------------
    def start(self) -> "SimModem":
        self._plug()
        self._running = True
        threading.Thread(target=self._at_loop, name=f"sim-{self.name}", daemon=True).start()
        if self.audio_port:
            threading.Thread(target=self._audio_loop, name=f"sim-{self.name}-audio", daemon=True).start()
        return self

    def stop(self) -> None:
        self._running = False
        time.sleep(0.1)
        self._unplug()

    def _plug(self) -> None:
        self._at = _Pty(Path(self.port))
        self._audio = _Pty(Path(self.audio_port)) if self.audio_port else None

    def _unplug(self) -> None:
        for pty in (self._at, self._audio):
            if pty is not None:
                pty.close()
        self._at = self._audio = None

    @property
    def plugged(self) -> bool:
        return self._at is not None

    # ---- what a person or a test does -------------------------------------------------
    @property
    def off_hook(self) -> bool:
        """V.253: the modem holds the analog line (AT+VLS=1 / ATD until AT+VLS=0)."""
        return self.voice is not None and self.voice.off_hook

    def incoming_call(self, number: str, withheld: bool = False, name: str = "") -> None:
        with self._lock:
            self.state, self.caller, self._next_ring = "ringing", (number, withheld), 0.0
            self.caller_name = name
            self._call_started = time.time()

    def remote_answer(self) -> None:
        with self._lock:
            if self.state == "dialing":
                self.state = "active"
                self._urc(*self._connected_urcs())

    def remote_hangup(self) -> None:
        """The far end hangs up. Analog (V.253): no signal but the busy tone in the audio."""
        with self._lock:
            if self.state != "idle":
                self._call_over()
                if self.voice is not None:
                    self.voice.far_end_hangup()
                else:
                    self._urc(*self._ended_urcs())

    def send_dtmf(self, digits: str) -> None:
        """Digits from the far end: a +DTMF URC on SIM800, in-band tones on PCM modems,
        DLE digit codes in the stream on a voice modem."""
        from hardware.dsp.dtmf import dtmf_tone

        if self.voice is not None:
            with self._lock:
                self.voice.send_dtmf(digits)
            return
        if not self.dialect.pcm:
            self._urc(*[f"+DTMF: {d}" for d in digits])
            return
        gap = np.zeros(800, np.int16)
        keys = np.concatenate([np.concatenate([dtmf_tone(d, 0.08), gap]) for d in digits]).astype("<i2").tobytes()
        with self._lock:  # pressed now: the keys take the place of the voice while they sound
            self._inject[:len(keys)] = keys

    def incoming_sms(self, sender: str, text: str) -> None:
        """The network delivers an SMS (several parts if long): stored, then +CMTI."""
        with self._lock:
            self._sms_ref += 1
            for pdu in encode_deliver(sender, text, ref=self._sms_ref):
                index = max(self._inbox, default=0) + 1
                self._inbox[index] = pdu
                self._urc(f'+CMTI: "SM",{index}')

    def inject_audio(self, samples: np.ndarray) -> None:
        with self._lock:
            self._inject += np.asarray(samples, "<i2").tobytes()

    def capture(self, pcm: bytes) -> None:
        """Keep what the PBX sent, the last minute of it (a daemon in development mode
        runs the simulator for days: all of it would grow by 16 kB a second of call)."""
        with self._lock:
            self._captured += pcm
            if len(self._captured) > CAPTURE_LIMIT:
                del self._captured[:len(self._captured) - CAPTURE_LIMIT]

    def _call_over(self) -> None:
        """Back on-hook: the far end's voice that was not played ends with its call (or it
        would pile up and be heard in the next call)."""
        self.state, self.audio_on = "idle", False
        self._inject.clear()

    def captured_audio(self) -> np.ndarray:
        with self._lock:
            return np.frombuffer(bytes(self._captured), dtype="<i2").copy()

    def garbage(self, size: int) -> None:
        """Random bytes on the AT port, as a modem with a wrong baud rate or a bad cable sends."""
        for _ in range(0, size, 4096):
            self._write(os.urandom(min(4096, size)))

    def fault(self, kind: str, seconds: float = 0.0, command: str = "") -> None:
        """unplug, replug, freeze, thaw, reset, garbage, slow (answers delayed by seconds);
        refuse / accept a command (accept without one: every command again)."""
        with self._lock:
            if kind in ("refuse", "accept"):
                self._refuse(kind, command.strip().upper())
                return
            if kind in ("unplug", "reset") and self.voice is not None:
                self.voice.hang_up()
            if kind == "unplug":
                self._call_over()
                self._unplug()
            elif kind == "replug":
                self.echo, self.call_state_urc = True, False
                self._plug()
            elif kind in ("freeze", "thaw"):
                self.frozen = kind == "freeze"
            elif kind == "reset":
                self._call_over()
                self.echo, self.call_state_urc = True, False
                self._urc("RDY", "+CPIN: READY", "SMS DONE")
            elif kind == "garbage":
                self._write(os.urandom(4096))
            elif kind == "slow":
                self.delay = seconds
            else:
                raise ValueError(f"unknown fault {kind!r}")

    def _refuse(self, kind: str, command: str) -> None:
        if kind == "refuse" and not command:
            raise ValueError("refuse: name the command, e.g. AT^DSCI=1")
        if kind == "refuse":
            self.refused.add(command)
        elif command:
            self.refused.discard(command)
        else:
            self.refused.clear()

    # ---- AT side ----------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        pty = self._at
        if pty is not None:
            try:
                os.write(pty.master, data)
            except OSError:
                pass

    def _urc(self, *lines: str) -> None:
        self._write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    def _at_loop(self) -> None:
        buffer = b""
        while self._running:
            pty = self._at
            if pty is None:
                time.sleep(0.05)
                continue
            streaming = self.voice is not None and self.voice.streaming
            try:
                ready = select.select([pty.master], [], [], 0.005 if streaming else 0.05)[0]
                data = os.read(pty.master, 4096) if ready else b""
            except OSError:
                time.sleep(0.05)
                continue
            self._ring_if_due()
            if self.voice is not None:
                with self._lock:
                    if self.frozen:
                        data = b""  # a hung modem hears nothing
                    else:
                        data = self.voice.receive(buffer + data)
                        buffer = b""
                    self.voice.tick()
            buffer += data
            if self._awaiting_pdu and b"\x1a" in buffer:  # SMS body after the "> " prompt
                body, buffer = buffer.split(b"\x1a", 1)
                with self._lock:
                    self._awaiting_pdu = False
                    self.sent_sms.append(body.strip().decode("latin-1"))
                    self._write(f"\r\n+CMGS: {len(self.sent_sms)}\r\n\r\nOK\r\n".encode())
                continue
            while b"\r" in buffer and not self._awaiting_pdu:
                line, buffer = buffer.split(b"\r", 1)
                line = line[max(0, line.upper().find(b"AT")):]  # a modem skips what comes before "AT"
                command = line.strip().decode("latin-1")
                if command and not self.frozen:
                    if self.echo:
                        self._write(line + b"\r")
                    if self.delay:
                        time.sleep(self.delay)
                    self._write(self._answer(command))

    def _ring_if_due(self) -> None:
        with self._lock:
            if self.state != "ringing" or time.monotonic() < self._next_ring:
                return
            self._next_ring = time.monotonic() + 3.0
            number, withheld = self.caller
            kind = 145 if number.startswith("+") else 129
            clip = '+CLIP: "",128,"",0,"",1' if withheld else f'+CLIP: "{number}",{kind},"",0,"",0'
            first = self.last_ring_at < self._call_started
            if first:  # before the write: the line may see the RING before this thread goes on
                self.last_ring_at = time.time()
            self._urc(*(self.voice.ring_lines(first) if self.voice is not None else ("RING", clip)))

    def _answer(self, command: str) -> bytes:
        up = command.upper()
        with self._lock:
            reply = ["ERROR"] if up in self.refused else self._reply(up, command)
        return b"".join(b"\r\n" + r.encode() + b"\r\n" for r in reply)

    def _reply(self, up: str, raw: str) -> list[str]:
        d = self.dialect
        if self.voice is not None:
            return self.voice.reply(up, raw)
        if up == "AT^DSCI=1" and d.name == "sim7600":
            self.call_state_urc = True
            return ["OK"]
        if up in ("AT", "ATZ") or up in d.commands or up == "AT+CMEE=1":
            return ["OK"]
        if up == "ATE0":
            self.echo = False
            return ["OK"]
        if up == "AT+CSQ":
            return [f"+CSQ: {self.rssi},99", "OK"]
        if up == "AT+CREG?":
            return ["+CREG: 1,1", "OK"]
        if up == "AT+COPS?":
            return [f'+COPS: 0,0,"{self.operator}",7', "OK"]
        if up == "AT^CVOICE?":
            return ["^CVOICE:0,8000,16,20", "OK"]
        if up == "AT+CLCC":
            return self._clcc() + ["OK"]
        if up == "ATA":
            if self.state != "ringing":
                return ["NO CARRIER"]
            self.state = "active"
            self.audio_on = self.audio_on or d.name == "ec25"
            return ["OK", *self._connected_urcs()]
        if up.startswith("ATD") and up.endswith(";"):
            self.dialed.append(raw[3:-1])
            self.state = "dialing"
            return ["OK"] + (["^ORIG:1,0", "^CONF:1"] if d.name == "huawei" else [])
        if up in ("AT+CHUP", "ATH"):
            self._call_over()
            return ["OK"]
        if up in ("AT+CPCMREG=1", "AT^DDSETEX=2"):
            self.audio_on = self.state == "active"
            return ["OK"] if self.audio_on else ["ERROR"]
        if up.startswith("AT+CPCMREG=0"):
            self.audio_on = False
            return ["OK"]
        if up.startswith("AT+CMGS="):
            self._awaiting_pdu = True
            self._write(b"\r\n> ")
            return []
        if up == "AT+CMGL=4":
            listed = [[f"+CMGL: {i},0,,{len(pdu) // 2 - 1}", pdu] for i, pdu in sorted(self._inbox.items())]
            return [line for pair in listed for line in pair] + ["OK"]
        if up.startswith("AT+CMGR="):
            pdu = self._inbox.get(int(up.split("=")[1] or 0))
            if pdu is None:
                return ["+CMS ERROR: 321"]
            return [f"+CMGR: 0,,{len(pdu) // 2 - 1}", pdu, "OK"]
        if up.startswith("AT+CMGD="):
            self._inbox.pop(int(up.split("=")[1].split(",")[0] or 0), None)
            return ["OK"]
        if up.startswith("AT+CUSD=1"):
            reply = self.ussd_reply
            threading.Timer(0.1, lambda: self._urc(f'+CUSD: 0,"{reply}",15')).start()
            return ["OK"]
        if up.startswith(("AT+VTS=", "AT^DTMF=")):
            self.sent_dtmf.append(raw.split("=", 1)[1].split(",")[-1].strip('"'))
            return ["OK"]
        return ["ERROR"]

    def _clcc(self) -> list[str]:
        stat = {"ringing": 4, "dialing": 3, "active": 0}.get(self.state)
        if stat is None:
            return []
        direction = 1 if self.caller[0] and stat != 3 else 0
        return [f'+CLCC: 1,{direction},{stat},0,0,"{self.caller[0]}",129']

    def _connected_urcs(self) -> list[str]:
        name = self.dialect.name
        if name == "sim7600":
            return ["VOICE CALL: BEGIN"]
        if name == "huawei":
            return ["^CONN:1,0"]
        return []

    def _ended_urcs(self) -> list[str]:
        name = self.dialect.name
        if name == "sim7600":  # ^DSCI: id,dir,stat,type,number,toa; stat 6: ended
            dsci = [f"^DSCI: 1,{1 if self.caller[0] else 0},6,0,{self.caller[0]},129"]
            return [*dsci, "VOICE CALL: END: 000010", "NO CARRIER"] if self.call_state_urc else []
        if name == "huawei":
            return ["^CEND:1,10,104,16"]
        return ["NO CARRIER"]

    # ---- audio side -------------------------------------------------------------------
    def _audio_loop(self) -> None:
        next_frame = time.monotonic()
        while self._running:
            pty = self._audio
            if pty is None:
                time.sleep(0.05)
                continue
            try:
                if select.select([pty.master], [], [], 0.005)[0]:
                    data = os.read(pty.master, 4096)
                    with self._lock:
                        if self.audio_on:
                            self.capture(data)
            except OSError:
                time.sleep(0.05)
                continue
            now = time.monotonic()
            if now < next_frame:
                continue
            next_frame = max(next_frame + 0.02, now - 0.1)
            with self._lock:
                if not self.audio_on:
                    continue
                frame = bytes(self._inject[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
                del self._inject[:FRAME_BYTES]
            try:
                os.write(pty.master, frame)
            except OSError:
                pass
