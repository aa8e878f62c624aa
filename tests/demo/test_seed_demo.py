from django.core.management import call_command

from accounts.models import Organization, User
from bounces.models import Bounce
from outreach.models import Campaign, EmailTemplate, OutboundEmail, Prospect


def _snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (Organization, User, Prospect, EmailTemplate, Campaign, OutboundEmail, Bounce)
    }


def test_seed_creates_the_documented_demo(db):
    call_command("seed_demo", verbosity=0)
    acme = Organization.objects.get(slug="acme")
    assert not acme.is_legacy
    assert Organization.objects.get(slug="legacy").is_legacy
    roles = dict(User.objects.filter(organization=acme).values_list("email", "role"))
    assert roles == {
        "rep@acme.test": "rep",
        "rep2@acme.test": "rep",
        "manager@acme.test": "manager",
        "admin@acme.test": "admin",
    }
    admin = User.objects.get(email="admin@acme.test")
    assert admin.is_staff and admin.check_password("mailroom")
    assert not admin.is_superuser  # an organization admin, scoped to Acme in the Django admin
    assert User.objects.get(email="operator@mailroom.test").is_superuser
    assert Prospect.objects.filter(organization=acme).count() == 200
    assert Campaign.objects.get(organization=acme).steps.count() == 3
    sent = OutboundEmail.objects.filter(organization=acme, sent_at__isnull=False)
    days = {e.sent_at.date() for e in sent}
    assert len(days) >= 29
    assert Bounce.objects.filter(organization=acme).exists()


def test_seed_twice_changes_nothing(db):
    call_command("seed_demo", verbosity=0)
    first = _snapshot()
    call_command("seed_demo", verbosity=0)
    assert _snapshot() == first


def test_demo_rep2_fixes_the_smtp_password_and_retries_the_failed_emails(db, sandbox):
    """The demo's "failed SMTP email, fixed and retried" story works against a real server."""
    from django.test import override_settings

    from channels_app.models import DeliveryChannel
    from channels_app.sending.services import channel_drain
    from channels_app.services import channel_smtp_save
    from outreach.services import email_retry

    with override_settings(
        MAILROOM_LEGACY_SMTP_HOST=sandbox.smtp_host, MAILROOM_LEGACY_SMTP_PORT=sandbox.smtp_port
    ):
        call_command("seed_demo", verbosity=0)
    rep2 = User.objects.get(email="rep2@acme.test")
    failed = list(OutboundEmail.objects.filter(sender=rep2, status="failed"))
    assert len(failed) == 3
    assert "update your SMTP credentials" in failed[0].failure_reason
    channel = DeliveryChannel.objects.get(owner=rep2, kind="custom_smtp")
    # Retrying with the stale password fails the same way again.
    email_retry(email=failed[0])
    channel_drain(channel_id=channel.pk)
    failed[0].refresh_from_db()
    assert failed[0].status == "failed" and "SMTP credentials" in failed[0].failure_reason
    # The fix: the new password, checked against the server before it is saved.
    channel_smtp_save(
        user=rep2, team=False, host=channel.host, port=channel.port, security="none",
        username="mailroom", password="sandbox",
    )  # fmt: skip
    for email in failed:
        email_retry(email=email)
    channel_drain(channel_id=channel.pk)
    assert set(OutboundEmail.objects.filter(sender=rep2, pk__in=[e.pk for e in failed])
               .values_list("status", flat=True)) == {"sent"}  # fmt: skip
    received = {m["rcpt_tos"][0] for m in sandbox.client.smtp_messages()}
    assert {e.to_address for e in failed} <= received


def test_demo_bounces_carry_their_reason_in_words(db):
    from bounces.models import Bounce

    call_command("seed_demo", verbosity=0)

    reasons = set(Bounce.objects.values_list("reason", flat=True))
    assert "user_unknown" in reasons and "" not in reasons


def test_the_korean_organization_shows_both_languages(db, client, sandbox):
    """한빛 세일즈 defaults to Korean: its rep reads Korean pages (prospects with Korean names,
    templates with Korean merge-field text), its manager has chosen English."""
    call_command("seed_demo", verbosity=0)
    hanbit = Organization.objects.get(slug="hanbit")
    assert hanbit.language == "ko" and hanbit.timezone == "Asia/Seoul"
    rep = User.objects.get(email="rep@hanbit.test")
    client.force_login(rep)
    home = client.get("/").content.decode()
    assert "안녕하세요, 지민님" in home and "발송함" in home
    prospects = client.get("/prospects/").content.decode()
    assert "한빛전자" in prospects
    template = EmailTemplate.objects.filter(organization=hanbit).first()
    assert "{{ first_name }}님" in template.body
    client.force_login(User.objects.get(email="manager@hanbit.test"))
    assert "Outbox" in client.get("/").content.decode()


def test_an_older_demo_database_gains_the_korean_organization(db):
    import random

    from demo.management.commands.seed_demo import seed

    seed(random.Random(1))  # a demo database from before the Korean organization existed
    assert not Organization.objects.filter(slug="hanbit").exists()
    call_command("seed_demo", verbosity=0)
    assert User.objects.filter(email="rep@hanbit.test").exists()
    assert OutboundEmail.objects.filter(organization__slug="hanbit").exists()
