"""In a browser: a rep builds a three-step campaign, activates it and enrolls a page of
prospects from the prospects list with "select all"; removing a step asks first."""

import pytest
from playwright.sync_api import expect

from outreach.models import Campaign, Enrollment
from tests.browser import sign_in
from tests.factories import EmailTemplateFactory, ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_a_campaign_and_enroll_from_the_prospects_list(live_server, page, rep):
    for name in ("Intro", "Bump", "Breakup"):
        EmailTemplateFactory(organization=rep.organization, owner=rep, name=name)
    for n in range(3):
        ProspectFactory(organization=rep.organization, owner=rep, email=f"lead{n}@northwind.test")
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Q1 outbound")
    page.get_by_role("button", name="Create campaign").click()

    add = page.locator("form.step-add")
    for template, days in (("Intro", "0"), ("Bump", "3"), ("Breakup", "7")):
        add.get_by_label("Template").select_option(label=template)
        add.locator("input[name=new-days]").fill(days)
        add.get_by_role("button", name="Add step").click()
        expect(page.locator(".message-success")).to_contain_text("Added step")
    expect(page.locator(".step-row[data-step]")).to_have_count(3)

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator(".step-row[data-step='3']").get_by_role("button", name="Remove").click()
    page.wait_for_timeout(300)  # a dismissed dialog sends nothing
    assert questions and questions[0].startswith("Remove step 3?")
    expect(page.locator(".step-row[data-step]")).to_have_count(3)

    page.get_by_role("button", name="Activate campaign").click()
    expect(page.get_by_role("button", name="Pause campaign")).to_be_visible()

    page.get_by_role("link", name="Prospects", exact=True).click()
    page.get_by_label("Select every prospect on this page").check()
    page.get_by_label("Enroll in").select_option(label="Q1 outbound")
    page.get_by_role("button", name="Enroll selected").click()
    expect(page.locator(".message-success")).to_contain_text(
        "Enrolled 3 prospects in “Q1 outbound”."
    )
    campaign = Campaign.objects.get(name="Q1 outbound")
    assert campaign.status == Campaign.Status.ACTIVE
    assert Enrollment.objects.filter(campaign=campaign).count() == 3
