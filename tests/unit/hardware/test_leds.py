from hardware.gpio.leds import Pattern, StatusLeds
from pbx.events import EventBus
from pbx.leds import LedController


def test_leds_follow_events_on_mock_pins() -> None:
    leds = StatusLeds(simulated=True)
    bus = EventBus()
    LedController(leds, bus)
    assert not leds.is_lit("power")
    bus.publish("ready")
    assert leds.is_lit("power")
    bus.publish("call_started", id="a")
    bus.publish("call_started", id="b")
    bus.publish("call_ended", id="a")
    assert leds.is_lit("call")
    bus.publish("call_ended", id="b")
    assert not leds.is_lit("call")
    bus.publish("registrations", count=2)
    assert leds.patterns["phones"] is Pattern.ON
    leds.close()


def test_line_and_fault_leds_follow_the_lines() -> None:
    leds = StatusLeds(simulated=True)
    bus = EventBus()
    LedController(leds, bus)
    bus.publish("line_state", line="gsm1", state="up")
    bus.publish("line_state", line="fxo1", state="up")
    assert (leds.patterns["line"], leds.patterns["fault"]) == (Pattern.ON, Pattern.OFF)
    bus.publish("line_state", line="fxo1", state="down", reason="port lost")
    assert (leds.patterns["line"], leds.patterns["fault"]) == (Pattern.SLOW, Pattern.FAST)
    bus.publish("line_removed", line="fxo1")
    assert (leds.patterns["line"], leds.patterns["fault"]) == (Pattern.ON, Pattern.OFF)
    bus.publish("line_removed", line="gsm1")
    assert leds.patterns["line"] is Pattern.OFF and not leds.is_lit("line")
    leds.close()
