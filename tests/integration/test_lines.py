"""Phone lines in the running daemon, driven as an owner and a caller would: `pbx trunk`
adds and removes lines while the daemon runs, `pbx sim` plays the far end (a call, SMS,
key presses, a broken modem), and the SIPp phone and the REST bridge show the result."""
from __future__ import annotations

import json
import time
from pathlib import Path

from hardware.modem.pdu import encode_submit
from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone
from tests.support.daemon import Daemon, wait_until
from tests.support.rtp import tone_level


def line(pbx: Daemon, name: str) -> dict:
    return next((t for t in pbx.api("trunks") if t["name"] == name), {})


def test_trunks_are_added_listed_and_removed_while_the_daemon_runs(pbx: Daemon) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    listing = pbx.pbx("trunk", "list").stdout
    assert "gsm1" in listing and "idle" in listing and "-71 dBm" in listing and "MegaFon" in listing, listing

    pbx.pbx("trunk", "add", "gsm2", "--type", "gsm", "--dialect", "huawei", "--port", "sim")
    pbx.pbx("trunk", "add", "gsm3", "--type", "gsm", "--port", "/dev/ttyUSB-absent")
    assert wait_until(lambda: line(pbx, "gsm2").get("state") == "idle", timeout=15), pbx.api("trunks")
    # no such port: down, retried with backoff ("stopped" until the core has started it)
    assert wait_until(lambda: line(pbx, "gsm3").get("state") == "down", timeout=15), pbx.api("trunks")
    assert pbx.api("sim/gsm2")["state"] == "idle"  # its simulator runs

    bad = pbx.pbx("trunk", "add", "fxo9", "--type", "fxo", "--dialect", "sim800", "--port", "/dev/ttyS0", check=False)
    assert bad.returncode == 2 and "fxo trunk takes the dialect usr5637" in bad.stderr

    pbx.pbx("trunk", "del", "gsm2")
    pbx.pbx("trunk", "del", "gsm3")
    assert wait_until(lambda: set(pbx.api("status")["lines"]) == {"gsm1"}, timeout=15), pbx.api("status")
    assert [t["name"] for t in pbx.api("trunks")] == ["gsm1"]


def test_trunk_list_without_a_daemon_says_stopped(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("trunk", "add", "gsm1", "--port", "/dev/ttyUSB2", "--audio-port", "/dev/ttyUSB4")
    rows = json.loads(daemon.pbx("trunk", "list", "--json").stdout)
    assert [(r["name"], r["dialect"], r["state"]) for r in rows] == [("gsm1", "sim7600", "stopped")]


def test_sms_received_and_sent_with_cyrillic_and_long_text(pbx: Daemon) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    # 146 characters: 3 UCS2 parts of at most 67
    long_text = "Здравствуйте! Перезвоните мне, пожалуйста, по поводу заказа номер 4512. " * 2
    pbx.pbx("sim", "sms", "--trunk", "gsm1", "--from", "89161234567", "--text", long_text)
    assert wait_until(lambda: len(pbx.api("sms")) == 1)
    received = pbx.api("sms")[0]
    assert (received["direction"], received["peer"], received["text"], received["parts"], received["trunk"]) == (
        "in", "+79161234567", long_text, 3, "gsm1")

    out = pbx.pbx("sms", "send", "--to", "+79161234567", "--text", "Перезвоним через 5 минут")
    assert "in 1 part(s)" in out.stdout
    sent = pbx.api("sim/gsm1")["sent_sms"]
    assert sent == [encode_submit("+79161234567", "Перезвоним через 5 минут", ref=1)[0][1]]
    listing = pbx.pbx("sms", "list").stdout
    assert "Перезвоним" in listing and "Здравствуйте" in listing
    assert pbx.pbx("trunk", "ussd", "gsm1", "*100#").stdout.strip() == "Balance: 100.00 RUB"
    bad = pbx.pbx("trunk", "ussd", "gsm1", "*100#; AT+CFUN=0", check=False)
    assert bad.returncode == 2 and "digits, * and #" in bad.stderr


def test_sms_to_a_line_that_is_down_fails_clearly_and_is_journalled(pbx: Daemon) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "unplug")
    assert wait_until(lambda: line(pbx, "gsm1")["state"] == "down")
    failed = pbx.pbx("sms", "send", "--to", "+79161234567", "--text", "hello", check=False)
    assert failed.returncode == 2 and "not sent" in failed.stderr, failed.stderr
    assert pbx.api("sms")[0]["status"].startswith("failed")


def test_dtmf_crosses_between_a_line_and_a_phone(pbx: Daemon, tmp_path: Path) -> None:
    """SIM800 reports the far end's keys as +DTMF: they reach the phone as RFC 4733
    events; the phone's RFC 4733 keys go to the line as AT+VTS."""
    pbx.pbx("trunk", "add", "sig1", "--dialect", "sim800", "--port", "sim")
    pbx.pbx("trunk", "del", "gsm1")  # one line rings the phone
    assert wait_until(lambda: line(pbx, "sig1").get("state") == "idle", timeout=15)
    with AnsweringPhone(pbx, tmp_path) as phone:
        pbx.pbx("sim", "call", "--trunk", "sig1", "--from", "+79161234567", "--dtmf", "5#")
        assert wait_until(lambda: phone.audio.digits == ["5", "#"], timeout=10), phone.audio.digits
        for digit in "1*":
            phone.audio.send_digit(digit, phone.event_pt())
        assert wait_until(lambda: pbx.api("sim/sig1")["sent_dtmf"] == ["1", "*"], timeout=10), pbx.api("sim/sig1")
        pbx.pbx("sim", "hangup", "--trunk", "sig1")
        assert phone.finish().successful == 1
    assert pbx.last_call()["trunk"] == "sig1"


def test_modem_unplugged_mid_call_ends_the_call_and_the_line_comes_back(pbx: Daemon, tmp_path: Path) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    with AnsweringPhone(pbx, tmp_path) as phone:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+79161234567", "--tone", "1000")
        assert wait_until(lambda: phone.audio.packets_in >= 50, timeout=15)
        pbx.pbx("sim", "fault", "--trunk", "gsm1", "unplug")
        result = phone.finish(timeout=15)  # the PBX sent BYE to the phone
        assert result.successful == 1, result.explain()
    record = pbx.last_call()
    assert (record["trunk"], record["callee"], record["disposition"]) == ("gsm1", BOB[0], "answered")
    assert line(pbx, "gsm1")["state"] == "down"
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "replug")
    assert wait_until(lambda: line(pbx, "gsm1")["state"] == "idle", timeout=40), pbx.log()[-2000:]
    assert pbx.api("calls/active") == []


def test_garbage_and_a_reset_modem_crash_nothing(pbx: Daemon) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    for _ in range(4):
        pbx.api("sim/gsm1/fault", {"kind": "garbage", "bytes": 256 * 1024})  # 1 MB in all
    pbx.api("sim/gsm1/fault", {"kind": "reset"})
    time.sleep(1)
    assert wait_until(lambda: line(pbx, "gsm1")["state"] == "idle", timeout=40), pbx.log()[-2000:]
    assert pbx.api("status")["registrations"] == 0  # the daemon answers
    assert pbx.proc is not None and pbx.proc.poll() is None


def test_frozen_modem_is_taken_down_and_reinitialised(pbx: Daemon) -> None:
    assert wait_until(lambda: line(pbx, "gsm1").get("state") == "idle")
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "freeze")
    assert wait_until(lambda: line(pbx, "gsm1")["state"] == "down", timeout=30), "a frozen modem stayed up"
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "thaw")
    assert wait_until(lambda: line(pbx, "gsm1")["state"] == "idle", timeout=40), pbx.log()[-2000:]


def test_real_hardware_mode_uses_the_configured_ports(tmp_path: Path) -> None:
    """PBX_HARDWARE=real: no simulators, lines on the ports of the trunk configuration
    (here a simulator started outside the daemon stands in for /dev/ttyUSB2)."""
    from hardware.modem.simulator import SimModem

    modem = SimModem("huawei", "usb", directory=tmp_path / "dev").start()
    daemon = Daemon(tmp_path / "data", env={"PBX_HARDWARE": "real"})
    try:
        daemon.pbx("trunk", "add", "gsm1", "--dialect", "huawei", "--port", modem.port,
                   "--audio-port", modem.audio_port)
        daemon.pbx("trunk", "add", "sim1", "--port", "sim")
        daemon.start()
        assert wait_until(lambda: line(daemon, "gsm1").get("state") == "idle", timeout=15), daemon.log()[-2000:]
        sim1 = line(daemon, "sim1")
        assert sim1["state"] == "down" and "development mode only" in sim1["problem"]
        modem.incoming_sms("+79161234567", "Счёт оплачен")
        assert wait_until(lambda: len(daemon.api("sms")) == 1)
        assert daemon.api("sms")[0]["text"] == "Счёт оплачен"
    finally:
        assert daemon.stop() == 0
        modem.stop()


def test_sim800_with_a_usb_sound_card_carries_the_voice(tmp_path: Path) -> None:
    """SIM800's voice is analog: with `--audio-port alsa:DEVICE` the call's audio goes
    through the sound card (here an ALSA device made of files) both ways."""
    from tests.integration.conftest import ALICE
    from tests.support.alsa import FileSoundCard

    card = FileSoundCard(tmp_path / "card", tone_hz=1000)
    daemon = Daemon(tmp_path / "data", ring_timeout=4, env=card.env())
    for number, password in (ALICE, BOB):
        daemon.pbx("ext", "add", number, "--name", f"ext {number}", "--password", password)
    daemon.pbx("trunk", "add", "sig1", "--dialect", "sim800", "--port", "sim", "--audio-port", card.device)
    daemon.start()
    try:
        daemon.pbx("trunk", "del", "gsm1")
        assert wait_until(lambda: set(daemon.api("status")["lines"]) == {"sig1"}
                          and line(daemon, "sig1")["state"] == "idle", timeout=15)
        with AnsweringPhone(daemon, tmp_path, tone_hz=1300) as phone:
            daemon.pbx("sim", "call", "--trunk", "sig1", "--from", "+79161234567")
            assert wait_until(lambda: phone.audio.packets_in >= 100, timeout=15)
            time.sleep(1.0)
            assert tone_level(phone.audio.audio()[-4000:], 1000) > 0.3, "the phone did not hear the sound card"
            assert wait_until(lambda: len(card.played()) >= 16000, timeout=10)
            assert tone_level(card.played()[-8000:], 1300) > 0.3, "the sound card did not get the phone's voice"
            daemon.pbx("sim", "hangup", "--trunk", "sig1")
            assert phone.finish().successful == 1
    finally:
        assert daemon.stop() == 0, daemon.log()[-2000:]
