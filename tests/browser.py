"""The browser tests' page fixture, shared by every app's tests through tests/conftest.py."""

import os

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(monkeypatch, live_server):
    """A Chromium page (Debian's chromium, never a downloaded browser) for this test only.
    Playwright's sync API keeps an event loop running in the test thread while it is open;
    Django refuses ORM calls there unless told they are synchronous on purpose (they are), and
    the loop is gone again when the test ends, so later tests keep Django's usual check."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        yield context.new_page()
        context.close()
        browser.close()
        # While Playwright's event loop runs in this thread, Django's connection lookup (an
        # asgiref Local) hands the test a connection of its own; close it here, or it stays
        # open after the loop is gone and the test database cannot be dropped at the end.
        connections.close_all()


def sign_in(page, live_server, user) -> None:
    """The page's browser carries `user`'s session cookie (no login form round trip)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
