"""`pbx recordings list|export|delete` against a data directory: numbers as written by a
person (8 916 ...), the export's copy and audit row, a data-protection delete by number."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pbx.cli import main
from pbx.recording.store import Recording
from pbx.services import open_services

NOW = 1796256000.0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    services = open_services(data)
    try:
        store = services.recordings
        for call_id, caller, at in (("c1", "+79161234567", NOW), ("c2", "+74951234567", NOW + 60),
                                    ("c3", "+79161234567", NOW + 120)):
            path = store.wav_path(call_id, at).with_suffix(".ogg")
            path.write_bytes(b"OggS" + call_id.encode() * 100)
            store.add(Recording(call_id, store.relative(path), "ogg", "ready", at, 12.5, path.stat().st_size,
                                caller, "101"))
        store.add(Recording("c4", store.relative(store.wav_path("c4", NOW + 180)), "wav", "recording", NOW + 180,
                            caller="+79161234567", callee="102"))
    finally:
        services.close()
    return data


@pytest.fixture
def pbx(data: Path, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data", str(data)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _audit(data: Path) -> list[dict]:
    services = open_services(data)
    try:
        return services.audit.list()
    finally:
        services.close()


def test_list_by_number_and_json(pbx) -> None:
    code, out, _ = pbx("recordings", "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["c4", "c3", "c2", "c1"]
    code, out, _ = pbx("recordings", "list", "--number", "8 (916) 123-45-67", "--json")
    rows = json.loads(out)
    assert [r["call_id"] for r in rows] == ["c4", "c3", "c1"] and rows[1]["url"] == "/api/v1/recordings/c3"
    assert json.loads(pbx("recordings", "list", "--limit", "1", "--json")[1])[0]["call_id"] == "c4"
    assert "no recordings of +74959999999" in pbx("recordings", "list", "--number", "84959999999")[1]


def test_export_copies_and_audits(pbx, data: Path, tmp_path: Path) -> None:
    code, out, _ = pbx("recordings", "export", "c2", "--dir", str(tmp_path / "out"))
    copy = tmp_path / "out" / "c2.ogg"
    assert code == 0 and copy.read_bytes() == b"OggS" + b"c2" * 100 and str(copy) in out
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    code, _, err = pbx("recordings", "export", "c2", "--dir", str(tmp_path / "out"))
    assert code == 2 and "exists already" in err
    assert pbx("recordings", "export", "c1", "-o", str(tmp_path / "one.ogg"))[0] == 0
    assert (tmp_path / "one.ogg").stat().st_size > 0
    code, _, err = pbx("recordings", "export", "c4", "-o", str(tmp_path / "live.wav"))
    assert code == 2 and "recording, not ready" in err
    code, _, err = pbx("recordings", "export", "nope")
    assert code == 2 and "no recording of call nope" in err
    audit = _audit(data)
    assert [(a["action"], a["call_id"], a["who"], a["source"]) for a in audit] == [
        ("export", "c1", "cli", "cli"), ("export", "c2", "cli", "cli")]
    assert audit[1]["detail"] == str(copy)


def test_delete_one_and_by_number(pbx, data: Path) -> None:
    code, out, _ = pbx("recordings", "delete", "c2")
    assert code == 0 and "recording c2 deleted" in out
    assert pbx("recordings", "delete", "c2")[0] == 2
    assert pbx("recordings", "delete")[0] == 2
    assert pbx("recordings", "delete", "c1", "--number", "+79161234567")[0] == 2
    code, out, _ = pbx("recordings", "delete", "--number", "8 916 123 45 67")
    assert code == 0 and "3 recordings of +79161234567 deleted" in out
    assert pbx("recordings", "list")[1].strip() == "no recordings"
    assert not list((data / "recordings").rglob("c*.*"))
    assert sorted((a["action"], a["call_id"]) for a in _audit(data)) == [
        ("delete", "c2"), ("delete_number", "c1"), ("delete_number", "c3"), ("delete_number", "c4")]
    assert "0 recordings of +79161234567" in pbx("recordings", "delete", "--number", "+79161234567")[1]


def test_pbx_config_set_checks_and_stores_a_recording_setting_as_the_daemon_reads_it(pbx, data: Path) -> None:
    from pbx.store.settings import Settings

    assert pbx("config", "set", "recording_default", " never ")[0] == 0
    assert Settings(data).get("recording_default") == "never"  # trimmed: the policy reads it as is
    for key, value in (("recording_quota_mb", "inf"), ("recording_min_free_pct", "95"), ("recording_channels", "3")):
        code, _, err = pbx("config", "set", key, value)
        assert code != 0 and key in err, (key, value, err)
        assert Settings(data).get(key) is None
