"""Compose in a browser: "To" offers matches as the rep types, the template fills in at once."""

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in
from tests.factories import EmailTemplateFactory, ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_type_ahead_pick_then_template_fills_without_leaving_the_page(live_server, page, rep):
    ana = ProspectFactory(
        organization=rep.organization,
        owner=rep,
        first_name="Ana",
        last_name="Lima",
        company="Initech",
        email="ana@initech.test",
    )
    for _ in range(20):
        ProspectFactory(organization=rep.organization, owner=rep, company="Globex")
    template = EmailTemplateFactory(owner=rep, name="Intro", subject="Hello {{ first_name }}")
    sign_in(page, live_server, rep)
    page.goto("/compose/")
    expect(page.get_by_role("button", name="Find")).to_be_hidden()

    page.fill("#id_to", "initech")
    matches = page.locator("#recipient-matches")
    option = matches.get_by_role("option", name="Ana Lima <ana@initech.test>")
    expect(option).to_be_visible()
    expect(matches.get_by_role("option")).to_have_count(1)
    option.click()
    expect(page.locator("#id_to")).to_have_value("Ana Lima <ana@initech.test>")
    expect(page.locator("#id_prospect")).to_have_value(str(ana.pk))

    url = page.url
    page.select_option("#id_template", str(template.pk))
    expect(page.locator("#id_subject")).to_have_value("Hello {{ first_name }}")
    expect(page.locator("#id_body")).to_have_value(template.body)
    assert page.url == url

    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".compose-preview")).to_contain_text("Hello Ana")
