"""Two real softphones (Debian's baresip) register with the appliance and call each
other; each hears the other's tone; the call record says answered."""
from __future__ import annotations

import time
from pathlib import Path

from tests.integration.conftest import ALICE, BOB
from tests.support.baresip import Baresip
from tests.support.daemon import Daemon
from tests.support.rtp import tone_level


def test_baresip_registers_and_completes_a_call(pbx: Daemon, tmp_path: Path) -> None:
    alice = Baresip(tmp_path / "alice", *ALICE, pbx.sip, tone_hz=700)
    bob = Baresip(tmp_path / "bob", *BOB, pbx.sip, tone_hz=1300, auto_answer=True)
    try:
        alice.wait_registered()
        bob.wait_registered()
        assert {r["ext"] for r in pbx.registrations()} == {ALICE[0], BOB[0]}
        alice.command("dial", BOB[0])
        alice.wait_event("CALL_ESTABLISHED")
        bob.wait_event("CALL_ESTABLISHED")
        time.sleep(3)
        alice.command("hangup")
        bob.wait_event("CALL_CLOSED")
        alice.wait_event("CALL_CLOSED")
    finally:
        alice.stop()
        bob.stop()
    assert tone_level(alice.heard()[4000:], 1300) > 0.3, "Alice did not hear Bob"
    assert tone_level(bob.heard()[4000:], 700) > 0.3, "Bob did not hear Alice"
    record = pbx.last_call()
    assert record["disposition"] == "answered"
    assert (record["caller"], record["callee"]) == (ALICE[0], BOB[0])
