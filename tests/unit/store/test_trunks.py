"""Trunk configuration: validation names the field, names and ports are unique, the
store is shared across processes like the others."""
from __future__ import annotations

from pathlib import Path

import pytest

from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.trunks import TrunkStore, new_trunk


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    store = TrunkStore(tmp_path)
    gsm = store.add(new_trunk("gsm1", "gsm", "", "/dev/ttyUSB2", "/dev/ttyUSB4"))
    fxo = store.add(new_trunk("fxo1", "fxo", "", "/dev/ttyACM0", area_code="495"))
    assert (gsm.dialect, fxo.dialect) == ("sim7600", "usr5637")
    assert new_trunk("gsm4", "gsm", "sim800", "/dev/ttyS0", "alsa:plughw:CARD=Device").audio_port.startswith("alsa:")
    again = TrunkStore(tmp_path)  # another process's view
    assert [t.name for t in again.list()] == ["fxo1", "gsm1"]
    assert again.get("fxo1").area_code == "495" and again.get("gsm1").audio_port == "/dev/ttyUSB4"
    stamp = again.stamp()
    store.delete("gsm1")
    assert again.stamp() != stamp and again.get("gsm1") is None


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "Gsm 1"}, "name"),
    ({"type": "isdn"}, "type"),
    ({"type": "fxo", "dialect": "sim7600"}, "dialect"),
    ({"dialect": "usr5637"}, "dialect"),
    ({"port": ""}, "port"),
    ({"port": "ttyUSB2"}, "port"),
    ({"audio_port": "COM3"}, "audio_port"),
    ({"audio_port": "alsa:"}, "audio_port"),
    ({"country": "XX"}, "country"),
    ({"area_code": "49-5"}, "area_code"),
])
def test_bad_fields_are_named(kwargs: dict, field: str) -> None:
    args = {"name": "gsm1", "type": "gsm", "dialect": "", "port": "/dev/ttyUSB2", **kwargs}
    with pytest.raises(ValidationError) as err:
        new_trunk(**args)
    assert err.value.details["field"] == field, err.value.message


def test_names_and_ports_are_unique_but_simulators_may_share_sim(tmp_path: Path) -> None:
    store = TrunkStore(tmp_path)
    store.add(new_trunk("gsm1", "gsm", "", "/dev/ttyUSB2", "/dev/ttyUSB4"))
    with pytest.raises(Conflict):
        store.add(new_trunk("gsm1", "gsm", "", "/dev/ttyUSB7"))
    with pytest.raises(Conflict):
        store.add(new_trunk("gsm2", "gsm", "", "/dev/ttyUSB4"))  # gsm1's audio port
    store.add(new_trunk("sim1", "gsm", "", "sim"))
    store.add(new_trunk("sim2", "gsm", "huawei", "sim"))
    assert len(store.list()) == 3
    with pytest.raises(NotFound):
        store.delete("nope")
