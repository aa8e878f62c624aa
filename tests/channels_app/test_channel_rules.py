"""Which channel a user's mail goes out through, and who may change what (README, "Connecting a
channel")."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.models import FeedEvent
from channels_app.exceptions import ReconnectRequired
from channels_app.models import ChannelChoice, DeliveryChannel
from channels_app.selectors import channel_for_user, channel_get_for_kind, channel_list_usable
from channels_app.services import (
    channel_choose,
    channel_choose_legacy,
    channel_disconnect,
)
from channels_app.tokens import channel_access_token, channel_mark_needs_reconnect
from tests.factories import DeliveryChannelFactory, OrganizationFactory, UserFactory

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


def team_smtp(org, **extra):
    return DeliveryChannel.objects.create(
        organization=org,
        owner=None,
        kind=Kind.CUSTOM_SMTP,
        is_team_default=True,
        host="smtp.sendgrid.net",
        port=587,
        security="starttls",
        username="apikey",
        password="s3cret",
        **extra,
    )


def test_a_user_without_any_channel_cannot_send(rep):
    assert channel_for_user(user=rep) is None
    assert list(channel_list_usable(user=rep)) == []


def test_team_smtp_is_every_members_default(rep, org):
    smtp = team_smtp(org)
    assert channel_for_user(user=rep) == smtp
    assert smtp in channel_list_usable(user=rep)


def test_a_chosen_channel_wins_over_the_team_default(rep, org):
    team_smtp(org)
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    channel_choose(user=rep, channel=gmail)
    assert channel_for_user(user=rep) == gmail


def test_a_chosen_mailbox_that_needs_reconnect_keeps_the_mail_waiting_not_rerouted(rep, org):
    team_smtp(org)
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    channel_choose(user=rep, channel=gmail)
    channel_mark_needs_reconnect(channel=gmail, reason="invalid_grant")
    assert channel_for_user(user=rep) == gmail
    assert gmail not in channel_list_usable(user=rep)


def test_disconnecting_the_chosen_channel_falls_back_to_the_team_smtp(rep, org):
    smtp = team_smtp(org)
    gmail = DeliveryChannelFactory(
        owner=rep, kind=Kind.GMAIL, access_token="at", refresh_token="rt"
    )
    channel_choose(user=rep, channel=gmail)
    channel_disconnect(user=rep, channel=gmail)
    gmail.refresh_from_db()
    assert gmail.status == Status.DISCONNECTED
    assert gmail.access_token == "" and gmail.refresh_token == ""
    assert channel_for_user(user=rep) == smtp


def test_without_choice_or_team_smtp_a_connected_mailbox_is_used(rep):
    outlook = DeliveryChannelFactory(owner=rep, kind=Kind.EXCHANGE_ONLINE)
    assert channel_for_user(user=rep) == outlook


def test_plug_in_rule_finds_only_the_users_own_mailbox_of_that_kind(rep, org):
    other = UserFactory(organization=org)
    DeliveryChannelFactory(owner=other, kind=Kind.EXCHANGE_ONLINE)
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    assert channel_get_for_kind(user=rep, kind=Kind.GMAIL) == gmail
    assert channel_get_for_kind(user=rep, kind=Kind.EXCHANGE_ONLINE) is None


def test_nobody_chooses_another_users_or_another_orgs_channel(rep, org, other_org_user):
    colleague_gmail = DeliveryChannelFactory(owner=UserFactory(organization=org))
    with pytest.raises(PermissionDenied):
        channel_choose(user=rep, channel=colleague_gmail)
    foreign_smtp = team_smtp(other_org_user.organization)
    with pytest.raises(PermissionDenied):
        channel_choose(user=rep, channel=foreign_smtp)
    assert channel_for_user(user=rep) is None


def test_only_legacy_organizations_may_use_the_legacy_servers(rep):
    with pytest.raises(PermissionDenied):
        channel_choose_legacy(user=rep)
    legacy_org = OrganizationFactory(slug="legacy", is_legacy=True)
    legacy_rep = UserFactory(organization=legacy_org, email="rep@legacy.test")
    channel = channel_choose_legacy(user=legacy_rep)
    assert channel.kind == Kind.MSC_LEGACY and channel.owner is None
    assert channel_for_user(user=legacy_rep) == channel
    # An organization that stops being legacy stops sending through them.
    legacy_org.is_legacy = False
    legacy_org.save()
    legacy_rep.refresh_from_db()
    assert channel_for_user(user=legacy_rep) is None


def test_needs_reconnect_tells_the_owner_once_with_a_reconnect_link(rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    for _ in range(2):
        channel_mark_needs_reconnect(channel=gmail, reason="Token has been expired or revoked.")
    gmail.refresh_from_db()
    assert gmail.status == Status.NEEDS_RECONNECT
    assert gmail.last_error == "Token has been expired or revoked."
    events = FeedEvent.objects.filter(user=rep, kind="channel_needs_reconnect")
    assert events.count() == 1
    assert reverse("channel_reconnect", args=[gmail.pk]) in events.get().detail


def test_team_smtp_needing_attention_tells_the_admins(org, org_admin, rep):
    smtp = team_smtp(org)
    channel_mark_needs_reconnect(channel=smtp, reason="535 Authentication failed")
    assert FeedEvent.objects.filter(user=org_admin, kind="channel_needs_reconnect").exists()
    assert not FeedEvent.objects.filter(user=rep).exists()


def test_a_fresh_access_token_is_used_as_is(rep):
    gmail = DeliveryChannelFactory(
        owner=rep,
        kind=Kind.GMAIL,
        access_token="ya29.fresh",
        refresh_token="1//rt",
        token_expires_at=timezone.now() + timedelta(minutes=50),
    )
    assert channel_access_token(channel=gmail) == "ya29.fresh"


def test_a_mailbox_waiting_for_reconnect_gives_no_token(rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, refresh_token="1//rt")
    channel_mark_needs_reconnect(channel=gmail, reason="revoked")
    with pytest.raises(ReconnectRequired):
        channel_access_token(channel=gmail)


def test_secrets_are_encrypted_at_rest(rep):
    from django.db import connection

    gmail = DeliveryChannelFactory(
        owner=rep, kind=Kind.GMAIL, access_token="ya29.plain", refresh_token="1//plain-refresh"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM channels_app_deliverychannel WHERE id = %s",
            [gmail.pk],
        )
        stored = cursor.fetchone()
    assert "ya29.plain" not in stored[0] and "plain-refresh" not in stored[1]


def test_choice_rows_follow_the_user(rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    channel_choose(user=rep, channel=gmail)
    assert ChannelChoice.objects.get(user=rep).channel == gmail
    assert User.objects.filter(pk=rep.pk).exists()


def test_django_admin_actions_ask_for_reconnect_and_disconnect(client, rep, org):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    superuser = UserFactory(organization=org, is_staff=True, is_superuser=True)
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, refresh_token="1//rt")
    client.force_login(superuser)
    url = reverse("admin:channels_app_deliverychannel_changelist")

    client.post(url, {"action": "ask_owner_to_reconnect", ACTION_CHECKBOX_NAME: [gmail.pk]})
    gmail.refresh_from_db()
    assert gmail.status == Status.NEEDS_RECONNECT
    assert FeedEvent.objects.filter(user=rep, kind="channel_needs_reconnect").exists()

    client.post(url, {"action": "disconnect", ACTION_CHECKBOX_NAME: [gmail.pk]})
    gmail.refresh_from_db()
    assert gmail.status == Status.DISCONNECTED and gmail.refresh_token == ""
    assert (
        "1//rt"
        not in client.get(
            reverse("admin:channels_app_deliverychannel_change", args=[gmail.pk])
        ).content.decode()
    )
