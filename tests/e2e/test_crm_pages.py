"""The owner connects a CRM in a real browser (headless chromium) against the real daemon:
adds a webhook endpoint pointing at a real receiver on 127.0.0.1 that verifies every
signature with the secret the page showed once; a contact added over the REST bridge
arrives and the page counts it delivered. The receiver then answers 500 with Retry-After:
the next event waits in the outbox with its error on the page, and when the receiver is
back the owner's Retry sends it at once (not in the minute Retry-After asked for). Last,
the endpoint is deleted after the second click."""
from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.e2e.test_web_admin import SCREENSHOTS, browser, first_login, shows  # noqa: F401 (browser: fixture)
from tests.support.daemon import Daemon, free_port, wait_until
from tests.support.webhook_receiver import Receiver

# a failed delivery is retried after Retry-After (60 s) or 30+ min of backoff: only the
# owner's Retry can send it within the test
ENV = {"PBX_CRM_RETRY_BASE": "3600", "PBX_CRM_REQUEST_TIMEOUT": "2", "PBX_CRM_RESYNC": "1"}


def crm_page_shows(browser, daemon: Daemon, text: str, timeout: float = 15) -> bool:  # noqa: F811
    """The page is drawn when asked: load it again until it shows the text."""
    def check() -> bool:
        browser.get(daemon.url + "/crm")
        return text in browser.page_source
    return wait_until(check, timeout=timeout, every=0.5)


def endpoint_row(browser) -> str:  # noqa: F811
    return browser.find_element(By.CSS_SELECTOR, "#webhooks tr[id^='webhook-']").text


def test_owner_connects_a_crm_sees_deliveries_and_retries_one(browser, tmp_path: Path) -> None:  # noqa: F811
    receiver = Receiver(free_port(), lifetime=90).up()  # stops by itself
    daemon = Daemon(tmp_path / "data", env=ENV).start()
    try:
        first_login(browser, daemon)
        browser.find_element(By.LINK_TEXT, "CRM").click()
        assert shows(browser, "<h1>CRM</h1>") and shows(browser, "No webhook endpoints yet.")
        url = browser.find_element(By.NAME, "url")
        url.send_keys(f"ftp://127.0.0.1:{receiver.port}/hook")
        browser.find_element(By.ID, "add-webhook").click()
        assert shows(browser, "url: an http:// or https:// address")
        assert "error" in browser.find_element(By.NAME, "url").get_attribute("class")
        url = browser.find_element(By.NAME, "url")
        url.clear()
        url.send_keys(f"http://127.0.0.1:{receiver.port}/hook")
        browser.find_element(By.ID, "type-contact.changed").click()
        browser.find_element(By.ID, "add-webhook").click()
        assert shows(browser, "Shown once")
        receiver.secret = browser.find_element(By.ID, "secret").text
        assert receiver.secret.startswith("whsec_")
        assert "webhook-signature" in browser.find_element(By.ID, "verify-hint").text
        browser.get(daemon.url + "/crm")
        assert receiver.secret not in browser.page_source  # once only
        assert "contact.changed" in endpoint_row(browser) and "yes" in endpoint_row(browser)

        daemon.api("contacts", {"name": "Анна Смирнова", "phones": ["8 903 000-00-01"]})
        assert wait_until(lambda: len(receiver.of_type("contact.changed")) == 1, timeout=15), receiver.dump()
        assert crm_page_shows(browser, daemon, "1 delivered"), endpoint_row(browser)
        assert "0 pending" in endpoint_row(browser) and "last delivered" in endpoint_row(browser)

        receiver.mode = "500"  # answers 500 with Retry-After: 60
        daemon.api("contacts", {"name": "Борис Иванов", "phones": ["8 903 000-00-02"]})
        assert wait_until(lambda: receiver.answered["500"] == 1, timeout=15), receiver.dump()
        assert crm_page_shows(browser, daemon, "HTTP 500"), endpoint_row(browser)
        row = endpoint_row(browser)
        assert "1 pending" in row and "contact.changed for" in row and "1 try," in row, row
        [waiting] = daemon.api("crm/outbox?state=pending")["deliveries"]  # type: ignore[call-overload]
        queue_row = browser.find_element(By.ID, f"delivery-{waiting['id']}").text
        assert "pending" in queue_row and "HTTP 500" in queue_row and waiting["msg_id"] in queue_row, queue_row
        browser.save_screenshot(str(SCREENSHOTS / "pbx-crm-waiting.png"))

        receiver.mode = "ok"  # back, but the outbox waits for Retry-After
        time.sleep(2)
        assert len(receiver.of_type("contact.changed")) == 1
        browser.find_element(By.ID, f"retry-{waiting['id']}").click()
        assert shows(browser, f"Delivery {waiting['id']} (contact.changed) is sent again now.")
        assert wait_until(lambda: len(receiver.of_type("contact.changed")) == 2, timeout=10), receiver.dump()
        assert crm_page_shows(browser, daemon, "2 delivered"), endpoint_row(browser)
        assert "0 pending" in endpoint_row(browser) and "Nothing waiting and no dead letters." in browser.page_source
        browser.save_screenshot(str(SCREENSHOTS / "pbx-crm.png"))

        names = [e["data"]["contact"]["name"] for e in receiver.of_type("contact.changed")]
        assert names == ["Анна Смирнова", "Борис Иванов"], names
        assert receiver.accepted[1]["id"] == waiting["msg_id"]  # the same webhook-id on the retry
        assert receiver.duplicates() == {} and receiver.bad_signatures == 0

        endpoint_id = browser.find_element(By.CSS_SELECTOR, "#webhooks tr[id^='webhook-']").get_attribute("id")[8:]
        browser.find_element(By.ID, f"delete-{endpoint_id}").click()  # opens the confirmation
        browser.find_element(By.ID, f"confirm-delete-{endpoint_id}").click()
        assert shows(browser, "deleted, with its undelivered events") and shows(browser, "No webhook endpoints yet.")
        assert "no webhook endpoints" in daemon.pbx("crm", "webhook", "list").stdout
    finally:
        daemon.stop()
        receiver.down()
