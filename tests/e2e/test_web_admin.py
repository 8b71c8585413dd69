"""The owner in a real browser (Debian's headless chromium) against the real daemon: the
first visit (one-time password, forced change, an extension added, its phone seen on the
dashboard with the phone lines, deleted, log out); then the lines and messages pages."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.daemon import Daemon
from tests.support.rawsip import Phone

SCREENSHOTS = Path(os.environ.get("PBX_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix='pbx-chromium-')
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,900",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shows(driver, text: str, timeout: float = 10) -> bool:
    """After a click the next page may still be loading: wait for the text."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: text in d.page_source)
        return True
    except TimeoutException:
        return False


def click_through(driver, button_id: str, timeout: float = 10) -> None:
    """Click a button that loads a new page and wait until the old page is gone, so that
    text the old page also shows (a count, a name) is not taken for the answer."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, timeout).until(expected_conditions.staleness_of(old))


def fill_form(driver, form_id: str, **fields: str) -> None:
    """Type into one form's inputs and pick in its selects (pages hold several forms)."""
    form = driver.find_element(By.ID, form_id)
    for name, value in fields.items():
        box = form.find_element(By.NAME, name)
        if box.tag_name == "select":
            Select(box).select_by_value(value)
        else:
            box.clear()
            box.send_keys(value)


def fill(driver, **fields: str) -> None:
    for name, value in fields.items():
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)


def test_owner_first_visit(browser, tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data").start()
    try:
        browser.get(daemon.url + "/")
        assert "/login" in browser.current_url
        fill(browser, password="not-the-password")
        browser.find_element(By.ID, "login").click()
        assert shows(browser, "Wrong user name or password")
        fill(browser, password=daemon.first_password)
        browser.find_element(By.ID, "login").click()
        assert shows(browser, "Choose your own password")
        fill(browser, new="Owner-chosen-pass", again="Owner-chosen-pass")
        browser.find_element(By.ID, "change").click()
        assert shows(browser, "<h1>Dashboard</h1>")

        browser.find_element(By.LINK_TEXT, "Extensions").click()
        fill(browser, number="105", name="Eve", password="weak")
        browser.find_element(By.ID, "add").click()
        assert shows(browser, "at least 10 characters")
        fill(browser, number="105", name="Eve", password="Eve-desk-phone-9")
        browser.find_element(By.ID, "add").click()
        assert shows(browser, "Extension 105 added")
        assert "Eve" in browser.find_element(By.ID, "extensions").text

        phone = Phone(daemon.sip_port)
        assert phone.register("105", "Eve-desk-phone-9").startswith(b"SIP/2.0 200 OK")
        browser.find_element(By.LINK_TEXT, "Dashboard").click()
        assert shows(browser, "sip:105@")
        lines = browser.find_element(By.ID, "lines").text  # the simulated GSM line, up
        assert "gsm1" in lines and "sim7600" in lines and "MegaFon" in lines and "dBm" in lines, lines
        browser.save_screenshot(str(SCREENSHOTS / "pbx-dashboard.png"))

        browser.find_element(By.LINK_TEXT, "Extensions").click()
        browser.find_element(By.ID, "delete-105").click()
        assert shows(browser, "Extension 105 deleted")
        browser.find_element(By.ID, "logout").click()
        assert shows(browser, 'id="login"')
        browser.get(daemon.url + "/extensions")
        assert "/login" in browser.current_url
    finally:
        assert daemon.stop() == 0


def first_login(browser, daemon: Daemon, password: str = "Owner-chosen-pass") -> None:
    browser.get(daemon.url + "/login")
    fill(browser, password=daemon.first_password)
    browser.find_element(By.ID, "login").click()
    assert shows(browser, "Choose your own password")
    fill(browser, new=password, again=password)
    browser.find_element(By.ID, "change").click()
    assert shows(browser, "<h1>Dashboard</h1>")


def test_owner_adds_a_line_and_reads_and_sends_messages(browser, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    daemon = Daemon(tmp_path / "data").start()
    try:
        first_login(browser, daemon)
        browser.find_element(By.LINK_TEXT, "Lines").click()
        assert shows(browser, "gsm1")
        fill(browser, name="gsm2", port="ttyUSB9")
        Select(browser.find_element(By.NAME, "dialect")).select_by_value("huawei")
        browser.find_element(By.ID, "add-line").click()
        assert shows(browser, "a device path such as /dev/ttyUSB2")  # the form keeps what was typed
        fill(browser, port="sim")
        browser.find_element(By.ID, "add-line").click()
        assert shows(browser, "Line gsm2 added")
        for _ in range(30):  # the daemon starts the line within seconds
            browser.get(daemon.url + "/lines")
            row = browser.find_element(By.XPATH, "//tr[td[1][text()='gsm2']]").text
            if "idle" in row:
                break
            time.sleep(0.5)
        assert "huawei" in row and "idle" in row and "MegaFon" in row, row
        browser.find_element(By.ID, "delete-gsm2").click()
        assert shows(browser, "Line gsm2 removed")

        daemon.pbx("sim", "sms", "--trunk", "gsm1", "--from", "89161234567", "--text", "Перезвоните, пожалуйста")
        browser.find_element(By.LINK_TEXT, "Messages").click()
        for _ in range(20):
            if "Перезвоните" in browser.find_element(By.ID, "messages").text:
                break
            time.sleep(0.5)
            browser.refresh()
        assert "+79161234567" in browser.find_element(By.ID, "messages").text
        fill(browser, to="+79161234567", text="Перезвоним через 5 минут")
        browser.find_element(By.ID, "send").click()
        assert shows(browser, "Message sent to +79161234567 on gsm1")
        browser.save_screenshot(str(SCREENSHOTS / "pbx-messages.png"))
    finally:
        assert daemon.stop() == 0
