"""Tenancy: a user of another organization gets 404 on every object URL of Acme's.

The URL patterns are discovered, not listed, so a page added later is walked too."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import (
    CampaignStepFactory,
    DeliveryChannelFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
)

SKIPPED_PREFIXES = ("admin/", "accounts/")


def _object_patterns(resolver: URLResolver | None = None, prefix: str = ""):
    """(route, int kwarg names) for every project URL that takes an object id."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            yield from _object_patterns(entry, route)
        elif isinstance(entry, URLPattern):
            converters = getattr(entry.pattern, "converters", {})
            int_names = [n for n, c in converters.items() if type(c).__name__ == "IntConverter"]
            if int_names:
                yield route, int_names


def _fill(route: str, names: list[str], value: int) -> str:
    url = route
    for name in names:
        url = url.replace(f"<int:{name}>", str(value))
    return "/" + url.lstrip("^").rstrip("$")


@pytest.fixture
def acme_objects(rep):
    step = CampaignStepFactory(campaign__owner=rep, template__is_shared=True)
    enrollment = EnrollmentFactory(campaign=step.campaign)
    email = OutboundEmailFactory(
        sender=rep, prospect=ProspectFactory(organization=rep.organization, owner=rep)
    )
    channel = DeliveryChannelFactory(owner=rep)
    return [
        step,
        step.campaign,
        step.template,
        enrollment,
        enrollment.prospect,
        email,
        email.prospect,
        channel,
    ]


def test_object_urls_exist_to_walk():
    assert list(_object_patterns()), "no object URLs found: the walk below would prove nothing"


def test_other_organization_gets_404_on_every_object_url(client, acme_objects, other_org_user):
    """Pages with the other user's session; then the JSON API with the other user's API token
    (created only after the page walk, so the walk never meets an object of their own)."""
    from outreach.services import api_token_create

    client.force_login(other_org_user)
    ids = sorted({obj.pk for obj in acme_objects})
    routes = list(_object_patterns())
    page_routes = [(r, n) for r, n in routes if not r.startswith("api/")]
    api_routes = [(r, n) for r, n in routes if r.startswith("api/")]
    checked = 0
    for extra, walk in ((None, page_routes), ("token", api_routes)):
        if extra == "token":
            _, raw_token = api_token_create(user=other_org_user, name="tenancy walk")
            extra = {"HTTP_AUTHORIZATION": f"Bearer {raw_token}"}
        for route, names in walk:
            for pk in ids:
                url = _fill(route, names, pk)
                assert client.get(url, **(extra or {})).status_code in (404, 405), f"GET {url}"
                assert client.post(url, **(extra or {})).status_code in (404, 405), f"POST {url}"
                checked += 1
    assert checked > 0


def test_owner_sees_their_objects(client, rep, acme_objects):
    """The control for the test above: the same URLs answer the owner."""
    client.force_login(rep)
    campaign, template = acme_objects[1], acme_objects[2]
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    assert client.get(f"/templates/{template.pk}/").status_code == 200
    assert client.get(f"/prospects/{acme_objects[6].pk}/").status_code == 200


def test_owner_reads_their_email_through_the_api(client, rep, acme_objects):
    from outreach.services import api_token_create

    email = acme_objects[5]
    _, raw_token = api_token_create(user=rep, name="plug-in")
    response = client.get(f"/api/v1/emails/{email.pk}/", HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    assert response.status_code == 200


# --- Role pairs inside one organization --------------------------------------------------------


@pytest.fixture
def rep_private_objects(rep):
    """What only the rep, their team's manager and the organization's admin may open."""
    step = CampaignStepFactory(campaign__owner=rep, template__owner=rep)
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    enrollment = EnrollmentFactory(campaign=step.campaign, prospect=prospect, sender=rep)
    email = OutboundEmailFactory(sender=rep, prospect=prospect, template=step.template)
    channel = DeliveryChannelFactory(owner=rep)
    assert not step.template.is_shared
    return [step.campaign, step.template, prospect, enrollment, email, channel]


def _in_org_viewer(kind, org, team):
    from accounts.models import User
    from tests.factories import TeamFactory, UserFactory

    if kind == "rep of the same team":
        return UserFactory(organization=org, team=team, role=User.Role.REP)
    west = TeamFactory(organization=org, name="West")
    if kind == "rep of another team":
        return UserFactory(organization=org, team=west, role=User.Role.REP)
    manager = UserFactory(organization=org, team=west, role=User.Role.MANAGER)
    west.manager = manager
    west.save(update_fields=["manager"])
    return manager


@pytest.mark.parametrize(
    "viewer_kind", ["rep of the same team", "rep of another team", "manager of another team"]
)
def test_role_scope_holds_on_every_object_url_inside_the_organization(
    client, org, team, rep_private_objects, viewer_kind
):
    viewer = _in_org_viewer(viewer_kind, org, team)
    client.force_login(viewer)
    ids = sorted({obj.pk for obj in rep_private_objects})
    checked = 0
    for route, names in _object_patterns():
        if route.startswith("api/"):
            continue
        for pk in ids:
            url = _fill(route, names, pk)
            assert client.get(url).status_code in (404, 405), f"{viewer_kind}: GET {url}"
            assert client.post(url).status_code in (403, 404, 405), f"{viewer_kind}: POST {url}"
            checked += 1
    assert checked > 0


def test_analytics_pages_open_for_the_owner_their_manager_and_the_admin(
    client, rep, manager, org_admin, rep_private_objects
):
    campaign, template = rep_private_objects[0], rep_private_objects[1]
    for user in (rep, manager, org_admin):
        client.force_login(user)
        assert client.get(f"/analytics/templates/{template.pk}/").status_code == 200, user
        assert client.get(f"/analytics/campaigns/{campaign.pk}/").status_code == 200, user
