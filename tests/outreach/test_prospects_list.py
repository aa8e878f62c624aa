"""The prospects list filters by address state, sorts by its columns, and its pager keeps the
search, filter and sort."""

import re

from django.urls import reverse
from django.utils import timezone

from outreach.models import Prospect
from tests.factories import (
    CampaignStepFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)


def _emails_on(page: str) -> list[str]:
    """The Email column, in order (the Owner column's rep@acme.test left out)."""
    found = re.findall(r"<td>([^<>@\s]+@[^<>\s]+)</td>", page)
    return [email for email in found if email != "rep@acme.test"]


def _invalid(prospect):
    prospect.email_status = Prospect.EmailStatus.INVALID
    prospect.invalidated_at = timezone.now()
    prospect.invalid_reason = "550 5.1.1 user unknown"
    prospect.save()


def test_filter_by_invalid_or_valid_address(client, rep):
    good = ProspectFactory(organization=rep.organization, owner=rep, email="good@example.test")
    bad = ProspectFactory(organization=rep.organization, owner=rep, email="bad@example.test")
    _invalid(bad)
    client.force_login(rep)

    assert _emails_on(
        client.get(reverse("prospects"), {"address": "invalid"}).content.decode()
    ) == [bad.email]
    assert _emails_on(client.get(reverse("prospects"), {"address": "valid"}).content.decode()) == [
        good.email
    ]
    assert client.get(reverse("prospects"), {"address": "nonsense"}).status_code == 200


def test_sort_by_a_column_and_back_the_other_way(client, rep):
    for name in ("carol", "alice", "bob"):
        ProspectFactory(organization=rep.organization, owner=rep, email=f"{name}@example.test")
    client.force_login(rep)

    ascending = client.get(reverse("prospects"), {"sort": "email"}).content.decode()
    descending = client.get(reverse("prospects"), {"sort": "-email"}).content.decode()
    assert _emails_on(ascending) == ["alice@example.test", "bob@example.test", "carol@example.test"]
    assert _emails_on(descending) == list(reversed(_emails_on(ascending)))
    assert 'href="?sort=-email"' in ascending  # the heading sorted on now flips the order
    assert client.get(reverse("prospects"), {"sort": "password"}).status_code == 200


def test_the_pager_keeps_search_filter_and_sort(client, rep):
    for n in range(60):
        ProspectFactory(organization=rep.organization, owner=rep, email=f"lead{n:02}@acme.test")
    client.force_login(rep)
    page = client.get(
        reverse("prospects"), {"q": "lead", "address": "valid", "sort": "-email"}
    ).content.decode()
    assert "Page 1 of 2" in page
    next_link = re.search(r'href="(\?[^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
    assert sorted(next_link.lstrip("?").split("&")) == [
        "address=valid",
        "page=2",
        "q=lead",
        "sort=-email",
    ]
    second = client.get(reverse("prospects") + next_link).content.decode()
    assert _emails_on(second) == [f"lead{n:02}@acme.test" for n in range(9, -1, -1)]


def test_the_outbox_pager_keeps_the_tab(client, rep):
    for _ in range(55):
        OutboundEmailFactory(sender=rep)
    client.force_login(rep)
    page = client.get(reverse("outbox"), {"tab": "sent"}).content.decode()
    next_link = re.search(r'href="(\?[^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
    assert "tab=sent" in next_link and "page=2" in next_link


def test_filter_by_suppressed_address_or_domain(client, rep):
    from suppression.services import suppression_add

    by_address = ProspectFactory(organization=rep.organization, owner=rep, email="Ann@Acme.test")
    by_domain = ProspectFactory(organization=rep.organization, owner=rep, email="bo@rival.test")
    ProspectFactory(organization=rep.organization, owner=rep, email="cy@free.test")
    suppression_add(organization_id=rep.organization_id, value="ann@acme.test", reason="manual")
    suppression_add(organization_id=rep.organization_id, value="rival.test", reason="manual")
    client.force_login(rep)
    page = client.get(reverse("prospects"), {"address": "suppressed", "sort": "email"}).content
    assert _emails_on(page.decode()) == [by_address.email, by_domain.email]
    assert page.decode().count(">suppressed</span>") == 2


def test_a_manager_filters_prospects_by_owner(client, manager, rep):
    rep2 = UserFactory(organization=rep.organization, team=rep.team, email="rep2@acme.test")
    mine = ProspectFactory(organization=rep.organization, owner=rep, email="mine@example.test")
    theirs = ProspectFactory(organization=rep.organization, owner=rep2, email="theirs@x.test")
    client.force_login(manager)

    page = client.get(reverse("prospects"), {"owner": rep2.pk}).content.decode()
    assert theirs.email in page and mine.email not in page
    assert f'<option value="{rep2.pk}" selected>' in page
    assert client.get(reverse("prospects"), {"owner": "x"}).status_code == 400


def test_an_owner_outside_the_scope_matches_nobody(client, rep, other_org_user):
    ProspectFactory(
        organization=other_org_user.organization, owner=other_org_user, email="far@x.test"
    )
    client.force_login(rep)
    page = client.get(reverse("prospects"), {"owner": other_org_user.pk}).content.decode()
    assert "far@x.test" not in page
    # Each filter in force is named in a sentence of its own (translatable piece by piece).
    assert "No prospects match the search and filters. Only that owner's prospects." in page


def test_filter_by_company_any_case_with_the_companies_offered(client, rep):
    ProspectFactory(organization=rep.organization, owner=rep, email="a@x.test", company="Initech")
    ProspectFactory(organization=rep.organization, owner=rep, email="b@x.test", company="Globex")
    client.force_login(rep)

    page = client.get(reverse("prospects"), {"company": "initech"}).content.decode()
    assert _emails_on(page) == ["a@x.test"]
    assert '<option value="Globex">' in page and '<option value="Initech">' in page


def test_export_and_enroll_all_keep_the_owner_and_company(client, rep):
    ProspectFactory(organization=rep.organization, owner=rep, email="a@x.test", company="Initech")
    ProspectFactory(organization=rep.organization, owner=rep, email="b@x.test", company="Globex")
    campaign = CampaignStepFactory(campaign__owner=rep).campaign
    client.force_login(rep)

    export = client.get(reverse("prospects_export"), {"company": "Initech"})
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert len(lines) == 2 and lines[1].startswith("a@x.test")

    client.post(
        reverse("prospects_enroll"),
        {"campaign": campaign.pk, "everyone_matching": "1", "company": "Initech", "owner": ""},
    )
    assert list(campaign.enrollments.values_list("prospect__email", flat=True)) == ["a@x.test"]
