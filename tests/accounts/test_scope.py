"""Role scope: a rep sees their own, a manager their team's, an admin the organization's."""

from accounts.models import User
from outreach.selectors import outbound_email_list, prospect_list, template_list
from tests.factories import (
    EmailTemplateFactory,
    OutboundEmailFactory,
    ProspectFactory,
    TeamFactory,
    UserFactory,
)


def _emails_by_sender(org, team):
    other_team = TeamFactory(organization=org, name="West")
    teammate = UserFactory(organization=org, team=team, email="teammate@acme.test")
    outsider = UserFactory(organization=org, team=other_team, email="west@acme.test")
    return teammate, outsider


def test_rep_sees_only_their_own_email(rep, org, team, other_org_user):
    teammate, outsider = _emails_by_sender(org, team)
    mine = OutboundEmailFactory(sender=rep)
    OutboundEmailFactory(sender=teammate)
    OutboundEmailFactory(sender=outsider)
    OutboundEmailFactory(sender=other_org_user)
    assert list(outbound_email_list(user=rep)) == [mine]


def test_manager_sees_their_team_not_other_teams(manager, rep, org, team):
    teammate, outsider = _emails_by_sender(org, team)
    visible = {OutboundEmailFactory(sender=u).pk for u in (rep, teammate, manager)}
    OutboundEmailFactory(sender=outsider)
    assert {e.pk for e in outbound_email_list(user=manager)} == visible


def test_admin_sees_the_organization_only(org_admin, rep, org, team, other_org_user):
    teammate, outsider = _emails_by_sender(org, team)
    visible = {OutboundEmailFactory(sender=u).pk for u in (rep, teammate, outsider)}
    OutboundEmailFactory(sender=other_org_user)
    assert {e.pk for e in outbound_email_list(user=org_admin)} == visible


def test_templates_include_shared_ones_of_the_organization(rep, org, team, other_org_user):
    teammate, _ = _emails_by_sender(org, team)
    own = EmailTemplateFactory(owner=rep)
    shared = EmailTemplateFactory(owner=teammate, is_shared=True)
    EmailTemplateFactory(owner=teammate, is_shared=False)
    EmailTemplateFactory(owner=other_org_user, is_shared=True)
    assert {t.pk for t in template_list(user=rep)} == {own.pk, shared.pk}


def test_prospects_follow_the_owner_scope(rep, manager, org):
    mine = ProspectFactory(organization=org, owner=rep)
    ProspectFactory(organization=org, owner=manager)
    assert list(prospect_list(user=rep)) == [mine]
    assert {p.pk for p in prospect_list(user=manager)} >= {mine.pk}


def test_user_without_organization_sees_nothing(db):
    loner = UserFactory(organization=None, role=User.Role.ADMIN)
    OutboundEmailFactory()
    assert list(outbound_email_list(user=loner)) == []
