"""The Django admin opens on what needs the admin's attention, in their organization only, each
a link to the filtered list whose action fixes it (issue 14, the admin as the admins' home)."""

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bounces.models import Bounce, InboxMessage
from channels_app.models import DeliveryChannel
from core.admin import organization_admins_group
from outreach.models import OutboundEmail
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, UserFactory

REFUSED = "Authentication unsuccessful — update your SMTP credentials, then Retry send"


def _trouble(owner):
    channel = DeliveryChannelFactory(owner=owner, status=DeliveryChannel.Status.NEEDS_RECONNECT)
    for _ in range(3):
        OutboundEmailFactory(
            sender=owner, status=OutboundEmail.Status.FAILED, failure_reason=REFUSED
        )
    InboxMessage.objects.create(
        channel=channel, provider_message_id="m1", last_error="HeaderParseError: bad header"
    )
    Bounce.objects.create(
        organization=owner.organization,
        channel=channel,
        recipient="who@nowhere.test",
        status_code="5.1.1",
        is_hard=True,
        occurred_at=timezone.now(),
    )
    return channel


def test_the_admin_index_lists_what_needs_attention_with_links(client, org_admin, rep):
    org_admin.groups.add(organization_admins_group())
    _trouble(rep)
    _trouble(UserFactory(email="rep@globex.test"))  # another organization's, never counted
    client.force_login(org_admin)
    page = client.get(reverse("admin:index")).content.decode()

    assert "Needs your attention" in page
    assert "1 mailbox needs reconnecting: its mail waits" in page
    assert f"3 emails failed: {REFUSED}" in page
    assert "1 inbox message Mailroom could not read" in page
    assert "1 bounce matched no email Mailroom sent" in page
    assert 'href="/admin/bounces/inboxmessage/?processing=unreadable"' in page
    assert 'href="/admin/channels_app/deliverychannel/?attention=reconnect"' in page


def test_each_link_opens_the_filtered_list_and_retry_send_fixes_the_emails(client, org_admin, rep):
    org_admin.groups.add(organization_admins_group())
    _trouble(rep)
    client.force_login(org_admin)
    failed_list = reverse("admin:outreach_outboundemail_changelist")
    listing = client.get(failed_list, {"status__exact": "failed", "failure_reason": REFUSED})
    assert listing.status_code == 200 and "3 outbound emails" in listing.content.decode()
    channels = client.get(
        reverse("admin:channels_app_deliverychannel_changelist"), {"attention": "reconnect"}
    )
    assert "1 delivery channel" in channels.content.decode()

    DeliveryChannelFactory(owner=rep, kind=DeliveryChannel.Kind.EXCHANGE_ONLINE)
    ids = OutboundEmail.objects.filter(status="failed").values_list("pk", flat=True)
    client.post(failed_list, {"action": "retry_send", "_selected_action": list(ids)})
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED).count() == 3


def test_nothing_to_do_says_so(org_admin):
    org_admin.groups.add(organization_admins_group())
    client = Client()
    client.force_login(org_admin)
    assert "Nothing needs your attention" in client.get(reverse("admin:index")).content.decode()


def test_a_korean_admin_reads_the_list_in_korean(client, org_admin, rep):
    """The to-do list and its fixes follow the admin's language; what a server said (the
    failure reason) is quoted as written."""
    org_admin.language = "ko"
    org_admin.save(update_fields=["language"])
    org_admin.groups.add(organization_admins_group())
    _trouble(rep)
    client.force_login(org_admin)
    page = client.get(reverse("admin:index")).content.decode()

    assert "확인이 필요한 항목" in page
    assert "메일함 1개를 다시 연결해야 합니다: 메일이 대기 중입니다" in page
    assert f"이메일 3개 발송 실패: {REFUSED}" in page
    assert "Needs your attention" not in page
    channels = client.get(reverse("admin:channels_app_deliverychannel_changelist")).content.decode()
    assert "확인 필요" in channels and "소유자에게 다시 연결 요청" in channels
    assert "마지막 확인 시각" in channels  # a column: the field's own label
    emails = client.get(reverse("admin:outreach_outboundemail_changelist")).content.decode()
    assert "발송 다시 시도(실패한 이메일이 채널의 대기열로 돌아감)" in emails
