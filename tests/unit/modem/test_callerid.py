from hardware.modem.callerid import V253CallerIdBlock, parse_clip
from hardware.modem.events import Validity


def test_clip_forms() -> None:
    cid = parse_clip("gsm1", '+CLIP: "+79161234567",145,"",0,"",0')
    assert (cid.number, cid.number_type, cid.validity) == ("+79161234567", 145, Validity.OK)
    assert parse_clip("gsm1", '+CLIP: "89161234567",129').number == "89161234567"
    named = parse_clip("gsm1", '+CLIP: "+74951234567",145,,,"Ivanov",0')
    assert named.name == "Ivanov"
    withheld = parse_clip("gsm1", '+CLIP: "",128,"",0,"",1')
    assert withheld.anonymous and withheld.validity is Validity.WITHHELD and withheld.number == ""
    unavailable = parse_clip("gsm1", '+CLIP: "",128,"",0,"",2')
    assert unavailable.validity is Validity.UNAVAILABLE
    assert parse_clip("gsm1", "+CLIP: garbage") is None
    assert parse_clip("gsm1", "RING") is None


def test_v253_block() -> None:
    block = V253CallerIdBlock("fxo1")
    for text in ("DATE = 1124", "TIME = 1530", "NMBR = 4951234567", "NAME = IVANOV I"):
        assert block.feed(text)
    assert not block.feed("RING")
    cid = block.complete()
    assert (cid.number, cid.name, cid.validity) == ("4951234567", "IVANOV I", Validity.OK)
    private = V253CallerIdBlock("fxo1")
    private.feed("NMBR = P")
    assert private.complete().validity is Validity.WITHHELD
    assert V253CallerIdBlock("fxo1").complete() is None
