"""The owner keeps contacts in a real browser (headless chromium) against the real
daemon: adds one (a wrong number first: refused, the field marked), finds it by its
number typed in another format, sees the daemon's index know it, imports a small CSV
with a bad row and reads the report; the CLI sees what the page wrote."""
from __future__ import annotations

import json
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.e2e.test_web_admin import SCREENSHOTS, browser, click_through, fill_form, first_login, shows  # noqa: F401 (browser: fixture)
from tests.support.daemon import Daemon


def test_owner_adds_finds_and_imports_contacts(browser, tmp_path: Path) -> None:  # noqa: F811
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("ext", "add", "101", "--name", "Alice", "--password", "amber-Falcon-42")
    daemon.start()
    try:
        first_login(browser, daemon)
        browser.find_element(By.LINK_TEXT, "Contacts").click()
        assert shows(browser, "<h1>Contacts</h1>") and shows(browser, "No contacts yet")
        fill_form(browser, "form-contact", name="Иван Петров", company="ООО Ромашка", phones="mobile: call me",
                  tier="vip", responsible="101")
        click_through(browser, "save-contact")
        assert shows(browser, "is not a phone number")
        assert "error" in browser.find_element(By.NAME, "phones").get_attribute("class")
        fill_form(browser, "form-contact", phones="mobile: 8 916 123-45-67")
        click_through(browser, "save-contact")
        assert shows(browser, "Contact Иван Петров saved")

        fill_form(browser, "search", q="+7 (916) 123 45 67")
        click_through(browser, "find")
        assert shows(browser, "1 contact<")
        row = browser.find_element(By.ID, "contacts").text
        assert "Иван Петров" in row and "+79161234567" in row and "vip" in row and "101" in row, row

        source = tmp_path / "clients.csv"
        source.write_text("Name;Company;Mobile\nАнна Смирнова;Acme;8 903 000-00-01\n"
                          "Broken;row;+79030000002;extra;fields\nCopy of Ivan;;+7 916 123 45 67\n", encoding="utf-8")
        browser.find_element(By.CSS_SELECTOR, '#form-import input[type="file"]').send_keys(str(source))
        click_through(browser, "import")
        assert shows(browser, "1 imported, 2 refused")
        report = browser.find_element(By.ID, "refused").text
        assert "3 broken row: 5 fields, the header has 3" in report, report
        assert "4 +79161234567 already belongs to Иван Петров" in report, report
        browser.save_screenshot(str(SCREENSHOTS / "pbx-contacts.png"))

        page = json.loads(daemon.pbx("contacts", "list", "89030000001", "--json").stdout)
        assert [c["name"] for c in page["items"]] == ["Анна Смирнова"]
        found = daemon.api("contacts?q=%D0%B8%D0%B2%D0%B0%D0%BD")  # "иван"
        assert found["total"] == 1 and found["items"][0]["tier"] == "vip"
    finally:
        daemon.stop()
