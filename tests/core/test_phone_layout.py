"""At a phone's 390 px the main pages do not scroll sideways: the menu and wide tables scroll
inside their own boxes."""

import pytest
from django.utils import timezone

from outreach.models import OutboundEmail
from tests.browser import sign_in
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/outbox/", "/prospects/", "/compose/", "/analytics/", "/templates/new/", "/campaigns/"]


@pytest.mark.parametrize("user_fixture", ["rep", "manager"])
def test_main_pages_fit_a_390_px_phone(live_server, page, request, user_fixture, rep):
    user = request.getfixturevalue(user_fixture)
    DeliveryChannelFactory(owner=rep)
    long_name = "a.very.long.address.of.somebody.in.procurement"
    prospect = ProspectFactory(
        organization=rep.organization,
        owner=rep,
        email=f"{long_name}@northwind-industries.test",
        company="Northwind Industrial Holdings International",
    )
    for status in (OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED):
        OutboundEmailFactory(
            sender=rep,
            prospect=prospect,
            to_address=prospect.email,
            status=status,
            failed_at=timezone.now(),
            failure_reason="Authentication unsuccessful — update your SMTP credentials, then "
            "Retry send (535 5.7.8 Username and Password not accepted)",
            subject="A rather long subject line about your quarterly pipeline review meeting",
        )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, user)
    widths = {}
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    assert widths == dict.fromkeys(PAGES, 390)
