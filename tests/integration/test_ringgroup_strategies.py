"""Each ring-group strategy in the real daemon with three SIPp phones and a simulated GSM
caller: Alice's phone rings and is never answered, Bob's is busy (486), Carol's answers.
The call record's ring steps show the order the strategy chose, with the ring time.
(tests/unit/dialplan/test_strategies.py has the orders themselves, without phones.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ALICE, BOB
from tests.integration.test_dialplan_calls import CAROL, line_up, plan, steps
from tests.support import sipp
from tests.support.daemon import Daemon, free_port, wait_until
from tests.support.rtp import RtpEndpoint

RING_S = 5  # the shortest ring time a group may have
EXPECTED = {
    "ringall": [["101", "102", "103"]],
    "hunt": [["101"], ["102"], ["103"]],
    "memoryhunt": [["101"], ["101", "102"], ["101", "102", "103"]],
    "roundrobin": [["101"], ["102"], ["103"]],  # nobody answered before: from the top
    "firstavailable": [["101"]],  # only the first free member, who does not answer
}


def registered(pbx: Daemon, tmp: Path, user: tuple[str, str]) -> tuple[Path, int]:
    csv, port = sipp.users_csv(tmp / f"{user[0]}.csv", [user]), free_port()
    assert sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv, local_port=port), tmp).successful == 1
    return csv, port


def start_phone(pbx: Daemon, tmp: Path, user: tuple[str, str], scenario: str, calls: int = 3,
                params: dict[str, str] | None = None) -> subprocess.Popen:
    csv, port = registered(pbx, tmp, user)
    return sipp.start(sipp.sipp_args(scenario, pbx.sip, csv=csv, local_port=port, calls=calls,
                                     params=params, timeout_s=40), tmp)


@pytest.mark.parametrize("strategy", [*EXPECTED, "random"])
def test_strategy_with_one_phone_unanswered_one_busy_one_answering(pbx: Daemon, tmp_path: Path,
                                                                  strategy: str) -> None:
    pbx.pbx("ext", "add", CAROL[0], "--name", "Carol", "--password", CAROL[1])
    store = plan(pbx)
    store.save("ringgroup", {"id": "team", "strategy": strategy, "members": ["101", "102", "103"],
                             "ring_time": RING_S, "total_time": 40})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "ringgroup:team"})
    line_up(pbx)
    alice = start_phone(pbx, tmp_path, ALICE, "uas_ring.xml")
    bob = start_phone(pbx, tmp_path, BOB, "uas_busy.xml")
    audio = RtpEndpoint(1300).start()
    carol = start_phone(pbx, tmp_path, CAROL, "uas_call.xml", calls=1, params={"RTPPORT": str(audio.port)})
    phones = (alice, bob, carol)
    try:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567")
        if strategy == "firstavailable":
            assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "idle", timeout=RING_S + 15), \
                "the group did not give up after Alice's ring time"
        else:
            assert wait_until(lambda: audio.packets_in >= 25, timeout=3 * RING_S + 15), pbx.log()[-3000:]
            pbx.pbx("sim", "hangup", "--trunk", "gsm1")
    finally:
        audio.stop()
        for proc in phones:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    path = steps(pbx.last_call())
    rings = [s for s in path if s["step"] == "ring"]
    members = [s["members"] for s in rings]
    if strategy == "random":  # each member once, one at a time, until Carol answers
        assert all(len(m) == 1 for m in members) and len({m[0] for m in members}) == len(members), members
        assert members[-1] == ["103"], members
    else:
        assert members == EXPECTED[strategy], path
    for ring in rings[:-1]:  # a step with Alice in it rings her ring time; Bob alone is over at once
        limit = (RING_S - 0.5, RING_S + 1.5) if "101" in ring["members"] else (0.0, 1.5)
        assert limit[0] < ring["seconds"] < limit[1], rings
    if strategy == "firstavailable":
        assert path[-1]["step"] == "hangup" and "103" not in str(members)
    else:
        assert path[-1] == {**path[-1], "step": "answered", "ext": "103"}
