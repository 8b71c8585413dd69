"""The owner listens to a call's recording in a real browser (headless chromium) against
the real daemon: a 3 s Ogg made by sox is seeded into the data directory with its row
and its call record before the start; the call log's player reads its length from the
daemon (Range requests), the download link returns the file's bytes, a request without
a session is refused, and the Recordings page shows both in the audit log; deleting
the recording there removes the file."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from pbx.recording.store import Recording
from pbx.services import open_services
from pbx.store.journal import CallRecord
from tests.e2e.test_web_admin import (  # noqa: F401 (browser: fixture)
    SCREENSHOTS,
    browser,
    click_through,
    first_login,
    shows,
)
from tests.support.daemon import Daemon, wait_until

CALL_ID = "rec-e2e-1"


def seed(data_dir: Path) -> Path:
    """A 3 s recording where the store keeps it, its row and a call record linking it."""
    services = open_services(data_dir)
    try:
        started = time.time() - 120
        path = services.recordings.wav_path(CALL_ID, started).with_suffix(".ogg")
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(path), "synth", "3", "sine", "440"], check=True)
        path.chmod(0o600)
        rec = Recording(CALL_ID, services.recordings.relative(path), "ogg", "ready", started, duration=3.0,
                        size=path.stat().st_size, caller="+79161234567", callee="101")
        services.recordings.add(rec)
        services.journal.add(CallRecord(CALL_ID, "+79161234567", "101", "inbound", "gsm1", started - 5, started,
                                        started + 3, 3.0, "answered", details={"recording": rec.link()}))
    finally:
        services.close()
    return path


def test_owner_listens_downloads_and_deletes_a_recording(browser, tmp_path: Path) -> None:  # noqa: F811
    data_dir = tmp_path / "data"
    path = seed(data_dir)
    daemon = Daemon(data_dir).start()
    try:
        refused = requests.get(f"{daemon.url}/recordings/{CALL_ID}/audio", timeout=10)
        assert refused.status_code == 401 and refused.headers["Content-Type"].startswith("text/plain")

        first_login(browser, daemon)
        browser.find_element(By.LINK_TEXT, "Calls").click()
        assert shows(browser, "<h1>Calls</h1>")
        audio = browser.find_element(By.ID, f"audio-{CALL_ID}")
        assert audio.get_attribute("preload") == "none"
        # the player asks for the metadata now (preload none waits for a click otherwise)
        browser.execute_script("arguments[0].preload = 'metadata'; arguments[0].load();", audio)
        assert wait_until(lambda: browser.execute_script("return arguments[0].readyState", audio) >= 1,
                          timeout=15), browser.execute_script("return arguments[0].error && arguments[0].error.message",
                                                              audio)
        duration = browser.execute_script("return arguments[0].duration", audio)
        assert abs(duration - 3.0) <= 0.1, duration
        browser.save_screenshot(str(SCREENSHOTS / "pbx-recording-calls.png"))

        link = browser.find_element(By.ID, f"download-{CALL_ID}").get_attribute("href")
        cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
        download = requests.get(link, cookies=cookies, timeout=10)
        assert download.status_code == 200 and download.content == path.read_bytes()
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["Content-Type"] == "audio/ogg"

        browser.find_element(By.LINK_TEXT, "Recordings").click()
        assert shows(browser, "<h1>Recordings</h1>")
        audit = browser.find_element(By.ID, "audit").text
        assert "listen" in audit and "download" in audit and "refused" in audit, audit
        refused_row = browser.find_element(By.CSS_SELECTOR, "#audit tr.action-refused").text
        assert CALL_ID in refused_row and "no session" in refused_row and "127.0.0.1" in refused_row, refused_row
        listen_row = browser.find_element(By.CSS_SELECTOR, "#audit tr.action-listen").text
        assert "admin" in listen_row and CALL_ID in listen_row, listen_row
        row = browser.find_element(By.ID, f"recording-{CALL_ID}").text
        assert "+79161234567" in row and "3.0 s" in row and "ogg" in row and "ready" in row, row
        browser.save_screenshot(str(SCREENSHOTS / "pbx-recordings.png"))

        browser.find_element(By.ID, f"delete-{CALL_ID}").click()  # opens the confirmation
        browser.find_element(By.ID, f"confirm-delete-{CALL_ID}").click()
        assert shows(browser, f"Recording of call {CALL_ID} deleted.") and shows(browser, "No recordings yet.")
        assert not path.exists()
        assert browser.find_element(By.CSS_SELECTOR, "#audit tr.action-delete").text.count(CALL_ID) == 1
        browser.get(daemon.url + "/calls")
        assert f"audio-{CALL_ID}" not in browser.page_source

        # the settings: the notice on, a week's recordings kept; a bad quota saves nothing
        browser.get(daemon.url + "/recordings")
        Select(browser.find_element(By.ID, "setting-recording_announcement")).select_by_value("en")
        days = browser.find_element(By.ID, "setting-recording_keep_days")
        days.clear()
        days.send_keys("7")
        click_through(browser, "save-settings")
        assert shows(browser, "Recording settings saved.")
        assert daemon.api("recording-settings")["recording_announcement"] == "en"
        assert daemon.api("recording-settings")["recording_keep_days"] == 7.0
        quota = browser.find_element(By.ID, "setting-recording_quota_mb")
        quota.clear()
        quota.send_keys("-5")
        Select(browser.find_element(By.ID, "setting-recording_announcement")).select_by_value("ru")
        click_through(browser, "save-settings")
        assert shows(browser, "Not saved: recording_quota_mb")
        assert daemon.api("recording-settings")["recording_announcement"] == "en"
        browser.save_screenshot(str(SCREENSHOTS / "pbx-recording-settings.png"))
    finally:
        daemon.stop()
