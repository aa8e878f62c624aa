"""In a browser: the template editor's preview follows the typing, filled in from the chosen
prospect; a merge-field mistake shows under the body as it is typed; a field from the list is
inserted at the cursor."""

import pytest
from playwright.sync_api import expect

from outreach.models import EmailTemplate
from tests.browser import sign_in
from tests.factories import ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_preview_follows_the_typing_and_mistakes_show_at_once(live_server, page, rep):
    ProspectFactory(
        organization=rep.organization,
        owner=rep,
        first_name="Ana",
        last_name="Ruiz",
        company="Northwind",
    )
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/templates/")
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name").fill("Intro")
    page.get_by_label("Subject").fill("Hello {{ company }}")
    page.get_by_label("Fill in from").select_option(label="Ana Ruiz · Northwind")
    expect(page.locator("#preview-subject")).to_have_text("Hello Northwind")

    body = page.get_by_label("Body")
    body.fill("Hi {{ frist_name }}")
    expect(page.locator("#body-error")).to_contain_text("Unknown merge field {{ frist_name }}")
    body.fill("Hi ")
    page.get_by_role("button", name="{{ first_name }}").click()
    expect(body).to_have_value("Hi {{ first_name }}")
    expect(page.locator("#body-error")).to_have_text("")
    expect(page.locator("#preview-text")).to_have_text("Hi Ana")

    page.get_by_label("HTML (sent with a plain-text alternative)").check()
    body.fill("<p>Hi <strong>{{ first_name }}</strong></p>")
    frame = page.frame_locator("#preview-html")
    expect(frame.locator("strong")).to_have_text("Ana")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("heading", name="Intro")).to_be_visible()
    assert EmailTemplate.objects.get().body_html == "<p>Hi <strong>{{ first_name }}</strong></p>"
