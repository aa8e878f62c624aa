"""Who sees whose figures: a rep their own, a manager their team's, an admin the
organization's; never another organization's."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tests.factories import (
    CampaignStepFactory,
    EmailTemplateFactory,
    OutboundEmailFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture
def sends(org, team, rep, manager):
    """rep: 3 emails; a teammate: 2; a rep of another team: 5; another organization: 7."""
    teammate = UserFactory(organization=org, team=team, role=User.Role.REP, email="mate@acme.test")
    west = TeamFactory(organization=org, name="West")
    outsider = UserFactory(organization=org, team=west, role=User.Role.REP, email="west@acme.test")
    stranger = UserFactory(role=User.Role.REP, email="rep@globex.test")
    template = EmailTemplateFactory(owner=rep, name="Shared intro", is_shared=True)
    step = CampaignStepFactory(campaign__owner=rep, template=template, position=1)
    for sender, count in ((rep, 3), (teammate, 2), (outsider, 5), (stranger, 7)):
        for _ in range(count):
            OutboundEmailFactory(
                sender=sender, template=template, campaign_step=step, sent_at=timezone.now()
            )
    return {"teammate": teammate, "outsider": outsider, "west": west, "stranger": stranger}


def _total_sent(response) -> int:
    return response.context["total"].sent


@pytest.mark.parametrize(
    "viewer, expected",
    [("rep", 3), ("manager", 5), ("org_admin", 10)],
)
@pytest.mark.parametrize("page", ["analytics", "analytics_templates", "analytics_campaigns"])
def test_each_role_sees_its_scope(client, sends, request, viewer, expected, page):
    client.force_login(request.getfixturevalue(viewer))
    assert _total_sent(client.get(reverse(page))) == expected


def test_leaderboard_names_only_reps_in_scope(client, sends, manager):
    client.force_login(manager)
    html = client.get(reverse("analytics")).content.decode()
    assert "mate@acme.test" in html
    assert "west@acme.test" not in html
    assert "rep@globex.test" not in html


def test_a_rep_cannot_narrow_to_someone_else(client, sends, rep):
    client.force_login(rep)
    response = client.get(reverse("analytics"), {"rep": sends["outsider"].pk})
    assert _total_sent(response) == 3


def test_a_manager_cannot_pick_another_team(client, sends, manager):
    client.force_login(manager)
    response = client.get(reverse("analytics_templates"), {"team": sends["west"].pk})
    assert _total_sent(response) == 5


def test_admin_narrows_to_a_team_and_a_rep(client, sends, org_admin, rep):
    client.force_login(org_admin)
    assert _total_sent(client.get(reverse("analytics"), {"team": sends["west"].pk})) == 5
    assert _total_sent(client.get(reverse("analytics"), {"rep": rep.pk})) == 3


def test_another_organization_sees_none_of_it(client, sends, other_org_user):
    client.force_login(other_org_user)
    for page in ("analytics", "analytics_templates", "analytics_campaigns"):
        assert _total_sent(client.get(reverse(page))) == 0


def test_detail_pages_of_another_organization_are_404(client, sends, other_org_user, rep):
    template_id = rep.templates.get().pk
    campaign_id = rep.campaigns.get().pk
    client.force_login(other_org_user)
    assert client.get(reverse("analytics_template_detail", args=[template_id])).status_code == 404
    assert client.get(reverse("analytics_campaign_detail", args=[campaign_id])).status_code == 404


def test_detail_pages_show_the_viewer_scope(client, sends, rep, manager):
    template_id = rep.templates.get().pk
    campaign_id = rep.campaigns.get().pk
    client.force_login(manager)
    response = client.get(reverse("analytics_template_detail", args=[template_id]))
    assert _total_sent(response) == 5
    assert b"<svg" in response.content
    response = client.get(reverse("analytics_campaign_detail", args=[campaign_id]))
    assert [s.figures.sent for s in response.context["steps"]] == [5]
