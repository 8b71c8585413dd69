"""A line's conference port dropped while pjmedia's clock calls it back must not corrupt
the heap (CI once saw the daemon die with SIGSEGV in json.dumps 0.5 s after a line call,
when the core let the call's ModemAudioPort go).

The child process makes the race certain instead of rare: with a long GIL switch
interval the core-side loop holds the GIL past a 20 ms tick, so the clock thread is
waiting for it when the port's last reference goes and SWIG's delete releases it. On
the code before DeleteWhileAlive the child is called back on a freed port and dies
(SIGSEGV) at the first port; now every port is deleted while it is whole."""
from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pjsua2 as pj

from pbx.calls import legs, trunk
from pbx.media import players
from pbx.media.directors import DeleteWhileAlive

CHILD = textwrap.dedent("""
    import sys, time
    from pbx.calls.trunk import ModemAudioPort
    from pbx.media.engine import MediaEngine

    class Probe(ModemAudioPort):
        def onFrameReceived(self, frame):
            if "write" not in self.__dict__:
                print("called back on a freed port", flush=True)

    engine = MediaEngine()
    engine.start()
    sys.setswitchinterval(1.0)
    for i in range(25):
        port = Probe(lambda frame: None)
        port.open(f"probe-{i}")
        engine.poll(1)
        until = time.perf_counter() + 0.03
        while time.perf_counter() < until:  # hold the GIL past a tick of the clock
            pass
        del port
    print("ports deleted: 25", flush=True)
    engine.stop()
""")


def test_a_port_dropped_while_the_clock_calls_it_is_deleted_whole() -> None:
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, f"exit {child.returncode}: {child.stdout}{child.stderr[-2000:]}"
    assert "ports deleted: 25" in child.stdout
    assert "freed" not in child.stdout + child.stderr


def test_every_pjsua2_subclass_that_pjmedia_calls_back_deletes_while_alive() -> None:
    subclasses = [cls for module in (trunk, legs, players) for _, cls in inspect.getmembers(module, inspect.isclass)
                  if cls.__module__ == module.__name__ and any(base.__module__ == pj.__name__ for base in cls.__mro__)]
    assert {c.__name__ for c in subclasses} >= {"ModemAudioPort", "Leg", "CoreAccount", "_FilePlayer"}
    for cls in subclasses:
        assert cls.__mro__[1] is DeleteWhileAlive, f"{cls.__name__} must list DeleteWhileAlive first"
