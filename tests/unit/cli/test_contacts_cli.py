"""`pbx contacts ...` against a data directory: add, list/search, show, edit, delete,
import with the progress line and the refused rows (exit 1), export to a file and back."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbx.cli import main


@pytest.fixture
def pbx(tmp_path: Path, capsys):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data", str(data)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_add_list_show_edit_delete(pbx) -> None:
    code, out, _ = pbx("contacts", "add", "--name", "Иван Петров", "--company", "Ромашка", "--tier", "vip",
                       "--phone", "mobile:8 916 123-45-67", "--phone", "+7 495 123 45 67")
    assert code == 0 and "added" in out
    cid = out.split()[1]
    code, _, err = pbx("contacts", "add", "--name", "Copy", "--phone", "89161234567")
    assert code == 2 and "already belongs to Иван Петров" in err
    code, _, err = pbx("contacts", "add", "--name", "X", "--tier", "gold")
    assert code == 2 and "tier" in err
    code, out, _ = pbx("contacts", "list", "+7 (916) 123-45-67")
    assert cid in out and "(1-1 of 1)" in out
    page = json.loads(pbx("contacts", "list", "ромаш", "--json")[1])
    assert page["total"] == 1 and page["items"][0]["phones"] == [
        {"type": "mobile", "number": "+79161234567"}, {"type": "other", "number": "+74951234567"}]
    assert pbx("contacts", "edit", cid, "--tier", "blocked", "--responsible", "101")[0] == 0
    shown = json.loads(pbx("contacts", "show", cid)[1])
    assert (shown["tier"], shown["responsible"], shown["company"], len(shown["phones"])) == (
        "blocked", "101", "Ромашка", 2)
    assert pbx("contacts", "delete", cid)[0] == 0
    code, _, err = pbx("contacts", "show", cid)
    assert code == 2 and "does not exist" in err
    assert "no contacts yet" in pbx("contacts", "list")[1]


def test_import_with_progress_and_report_then_export_and_back(pbx, tmp_path: Path) -> None:
    rows = "".join(f"Client {n},+7 903 {n:07d}\n" for n in range(1200))
    source = tmp_path / "in.csv"
    source.write_text("name,mobile\n" + rows + "Bad,not a number\nTwice,+7 903 0000001\n")
    code, out, err = pbx("contacts", "import", str(source))
    assert code == 1, err
    assert "1200 contacts imported, 2 rows refused" in out
    assert "row 1202: phones: 'not a number' is not a phone number" in out
    assert "row 1203: +79030000001 is also in row 3 of this import" in out
    assert "importing in.csv:" in err and "100% (1202 rows)" in err
    exported = tmp_path / "out.vcf"
    assert pbx("contacts", "export", "--format", "vcard", "--vcard-version", "4.0", "-o", str(exported))[0] == 0
    assert exported.read_text().count("BEGIN:VCARD") == 1200
    code, out, _ = pbx("contacts", "import", str(exported), "--json", "--quiet")
    report = json.loads(out)
    assert code == 1 and report["imported"] == 0 and report["refused_count"] == 1200  # all there already
    code, out, _ = pbx("contacts", "export")
    assert code == 0 and out.startswith("\ufeffid,name,company") and out.count("\r\n") == 1201
