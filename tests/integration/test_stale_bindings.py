"""An extension with bindings whose phones are gone (a softphone closed without
unregistering, a desk phone re-registered from a new port): a line call rings all of
them, the live phone answers, and when the line hangs up the live phone gets its BYE.
Nothing of the dead bindings' legs outlives the call."""
from __future__ import annotations

import time
from pathlib import Path

from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone
from tests.integration.test_recording import answered_line_call, line_idle
from tests.support import sipp
from tests.support.daemon import Daemon, free_port, wait_until


def test_a_line_call_to_an_extension_with_dead_bindings_ends_on_the_live_phone(pbx: Daemon, tmp_path: Path) -> None:
    csv = sipp.users_csv(tmp_path / "dead.csv", [BOB])
    for _ in range(2):  # two phones register as 102 and go away without unregistering
        result = sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv, local_port=free_port()), tmp_path)
        assert result.successful == 1, result.explain()
    assert len([r for r in pbx.registrations() if r["ext"] == BOB[0]]) == 2
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, tmp_path, tone_hz=440) as phone:
        answered_line_call(pbx, phone)
        time.sleep(2)
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish(timeout=15).successful == 1, "the live phone got no BYE"
    assert wait_until(lambda: pbx.api("calls/active") == [], timeout=5)
    assert pbx.last_call()["disposition"] == "answered"
