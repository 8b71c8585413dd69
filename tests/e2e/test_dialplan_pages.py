"""The owner builds a small dial plan in a real browser (Debian's headless chromium)
against the real daemon: a spoken prompt, a ring group (after a refused try) and an IVR
whose key 1 rings the group; then the plan is read back through the REST bridge and
the CLI; then a route sends the simulated GSM line's calls to the menu and a call follows
it: the caller hears the prompt, presses 1, and Bob's phone in the group answers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.test_web_admin import SCREENSHOTS, browser, fill_form, first_login, shows  # noqa: F401 (browser: fixture)
from tests.integration.phone import AnsweringPhone
from tests.support.daemon import Daemon, wait_until

pytest.importorskip("pbx.dialplan.store")
pytest.importorskip("pbx.dialplan.prompts")


def test_owner_builds_an_ivr_with_a_spoken_prompt_and_a_ring_group(browser, tmp_path: Path) -> None:  # noqa: F811
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("ext", "add", "101", "--name", "Alice", "--password", "amber-Falcon-42")
    daemon.pbx("ext", "add", "102", "--name", "Bob", "--password", "quiet-Harbor-77")
    daemon.start()
    try:
        first_login(browser, daemon)
        browser.find_element(By.LINK_TEXT, "Prompts").click()
        assert shows(browser, "<h1>Prompts</h1>")
        fill_form(browser, "form-prompt", id="welcome", name="Welcome", language="en",
                  text="Thank you for calling. Press one for sales.")
        browser.find_element(By.ID, "save-prompt").click()
        assert shows(browser, "Prompt welcome saved", timeout=30)
        audio = browser.find_element(By.CSS_SELECTOR, 'audio[src="/prompts/welcome/audio"]')
        assert audio.get_attribute("controls") is not None

        browser.find_element(By.LINK_TEXT, "Ring groups").click()
        assert shows(browser, "<h1>Ring groups</h1>")  # the new page, not the old one's form
        fill_form(browser, "form-ringgroup", id="sales", name="Sales", number="600", strategy="hunt",
                  members="101, 102", ring_time="soon", no_answer="hangup")
        browser.find_element(By.ID, "save-ringgroup").click()
        assert shows(browser, "ring_time must be a number")  # the answer page, with the field marked
        assert "error" in browser.find_element(By.NAME, "ring_time").get_attribute("class")
        assert browser.find_element(By.NAME, "members").get_attribute("value") == "101, 102"  # as typed
        fill_form(browser, "form-ringgroup", ring_time="15")
        browser.find_element(By.ID, "save-ringgroup").click()
        assert shows(browser, "Ring group sales saved")

        browser.find_element(By.LINK_TEXT, "IVRs").click()
        assert shows(browser, "<h1>IVR menus</h1>")  # the new page, not the old one's form
        fill_form(browser, "form-ivr", id="main", name="Main menu", prompt="welcome",
                  **{"keys.1": "ringgroup:sales", "keys.0": "extension:101"}, timeout_destination="ringgroup:sales")
        browser.find_element(By.ID, "save-ivr").click()
        assert shows(browser, "IVR main saved")
        tree = browser.find_element(By.ID, "tree-main").text
        assert "1 → ringgroup:sales (Sales, 600)" in tree and "0 → extension:101 (Alice)" in tree, tree
        browser.save_screenshot(str(SCREENSHOTS / "pbx-ivrs.png"))

        ivr = daemon.api("ivrs/main")
        assert ivr["prompt"] == "welcome" and ivr["keys"] == {"0": "extension:101", "1": "ringgroup:sales"}
        assert ivr["timeout_destination"] == "ringgroup:sales"
        group = json.loads(daemon.pbx("ringgroup", "show", "sales").stdout)
        assert (group["strategy"], group["members"], group["ring_time"]) == ("hunt", ["101", "102"], 15)
        prompt = daemon.api("prompts/welcome")
        assert prompt["text"].startswith("Thank you") and prompt["language"] == "en"
        assert (daemon.data_dir / "prompts" / "welcome.wav").stat().st_size > 8000

        # the line's own default route sends its calls to the menu, and a call follows it
        browser.find_element(By.LINK_TEXT, "Routes").click()
        assert shows(browser, "<h1>Inbound routes</h1>")  # the new page, not the old one's form
        fill_form(browser, "form-inbound", id="gsm-menu", trunk="gsm1", caller="any",
                  destination="ivr:main", position="10")
        browser.find_element(By.ID, "save-inbound").click()
        assert shows(browser, "Inbound route gsm-menu saved")
        assert wait_until(lambda: daemon.api("status")["lines"]["gsm1"]["state"] == "idle", timeout=30)
        with AnsweringPhone(daemon, tmp_path) as bob:  # Alice has no phone: the hunt skips her
            daemon.pbx("sim", "call", "--trunk", "gsm1", "--from", "89161234567")
            assert wait_until(lambda: daemon.api("sim/gsm1?level=400")["rms"] > 300, timeout=20), "no prompt heard"
            daemon.pbx("sim", "dtmf", "--trunk", "gsm1", "1")
            assert wait_until(lambda: bob.audio.packets_in >= 50, timeout=20), daemon.log()[-3000:]
            daemon.pbx("sim", "hangup", "--trunk", "gsm1")
            assert bob.finish().successful == 1
        record = daemon.last_call()
        path = record["details"]["path"]
        assert [p["step"] for p in path] == ["route", "ivr", "ringgroup", "ring", "answered"], path
        assert (path[0]["route"], path[1]["keys"], path[3]["members"]) == ("gsm-menu", "1", ["102"])
        assert (record["callee"], record["disposition"]) == ("102", "answered")
        browser.get(daemon.url + "/calls")
        assert shows(browser, "+79161234567")
    finally:
        assert daemon.stop() == 0
