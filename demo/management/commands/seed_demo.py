"""Demo data for `make run`: two organizations, the four Acme users, templates, a three-step
campaign, 200 prospects and 30 days of sending history with bounces and replies.

Deterministic (a seeded random generator) and idempotent: a second run finds the demo
organizations and changes nothing."""

import random
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organization, Team, User
from analytics.feed import feed_event_unsaved, feed_text
from analytics.models import FeedEvent
from bounces.models import Bounce
from bounces.parsing import reason_of_reply
from bounces.services import bounce_detail_texts, bounce_headline_text
from channels_app.models import ChannelChoice, DeliveryChannel
from channels_app.providers.smtp import AUTH_FAILED_REASON
from core.admin import organization_admins_group
from outreach.models import (
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
)
from suppression.models import Suppression

from ... import korean

DEMO_PASSWORD = "mailroom"  # noqa: S105 - the documented demo login
HISTORY_DAYS = 30
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
]
LAST_NAMES = [
    "Alvarez",
    "Brooks",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
]
COMPANIES = [
    ("Northwind", "northwind.test"),
    ("Globex", "globex.test"),
    ("Initech", "initech.test"),
    ("Umbrella", "umbrella.test"),
    ("Hooli", "hooli.test"),
    ("Stark Ind", "stark.test"),
    ("Wayne Ent", "wayne.test"),
    ("Cyberdyne", "cyberdyne.test"),
    ("Soylent", "soylent.test"),
    ("Tyrell", "tyrell.test"),
]
TITLES = ["VP Sales", "Head of RevOps", "CRO", "Sales Director", "SDR Manager", "CEO"]
TEMPLATES = [
    (
        "rep",
        "Intro: pipeline",
        "Quick idea for {{ company }}'s pipeline",
        "Hi {{ first_name }},\n\nTeams like {{ company }} use Mailroom to keep sales mail"
        " out of spam.\nWorth 15 minutes next week?\n",
        False,
    ),
    (
        "rep",
        "Follow-up: case study",
        "Re: Quick idea for {{ company }}",
        "Hi {{ first_name }},\n\nFollowing up with a two-page case study."
        " Want me to send it over?\n",
        False,
    ),
    (
        "manager",
        "Break-up email",
        "Should I close your file, {{ first_name }}?",
        "Hi {{ first_name }},\n\nI haven't heard back, so I'll assume the timing is off. "
        "If that changes, just reply.\n",
        True,
    ),
    (
        "rep2",
        "Event invite",
        "{{ first_name }}, join our RevOps roundtable",
        "Hi {{ first_name }},\n\nWe're hosting a small roundtable for {{ title }}s. Interested?\n",
        False,
    ),
]
BOUNCE_REASONS = [
    ("5.1.1", "smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown", True),
    (
        "5.1.10",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        True,
    ),
    ("5.2.2", "552 5.2.2 The email account that you tried to reach is over quota", False),
    ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", False),
]


# What the demo's prospects wrote back (the feed shows a reply's own words).
REPLY_OPENINGS = [
    "Thanks for reaching out. Can you send pricing for a team of 12?",
    "Interesting timing, we are reviewing tools this quarter. Tuesday at 10 works.",
    "Not the right person, please talk to our RevOps lead instead.",
    "We renewed with another vendor last month, maybe next year.",
]

TEAM_SMTP_LOGIN = "sales@acme.test"
SANDBOX_IMAP_PORT = 1143  # the sandbox's IMAP server in `make run` (Procfile)


class Command(BaseCommand):
    help = "Load the demo organizations, users and 30 days of history (idempotent)."

    def handle(self, *args, **options):
        if not Organization.objects.filter(slug=korean.SLUG).exists():
            # Its own check, so a demo database from before it existed gains it too.
            with transaction.atomic():
                emails = korean.seed_korean(
                    random.Random(20261203),
                    now=timezone.now(),
                    password=DEMO_PASSWORD,
                    smtp_login=TEAM_SMTP_LOGIN,
                )
            self.stdout.write(f"Seeded the Korean organization 한빛 세일즈: {emails} emails")
        if Organization.objects.filter(slug="acme").exists():
            self.stdout.write("Demo data already present: nothing to do.")
            return
        with transaction.atomic():
            counts = seed(random.Random(20261126))
        self.stdout.write("Seeded: " + ", ".join(f"{n} {label}" for label, n in counts.items()))


def _user(email: str, org: Organization, role: str, team: Team | None = None, **extra) -> User:
    first, _, rest = email.partition("@")
    user = User.objects.create_user(
        email=email,
        password=DEMO_PASSWORD,
        organization=org,
        role=role,
        team=team,
        first_name=extra.pop("first_name", first.capitalize()),
        **extra,
    )
    return user


def _suppressions_seed(acme: Organization, org_admin: User) -> None:
    """The suppression list as the history left it: each hard-bounced address, with its
    bounce; an address that unsubscribed by phone; a competitor's whole domain."""
    rows = []
    for bounce in Bounce.objects.filter(organization=acme, is_hard=True).order_by("occurred_at"):
        if any(row.address == bounce.recipient for row in rows):
            continue
        rows.append(
            Suppression(
                organization=acme,
                address=bounce.recipient,
                reason=Suppression.Reason.HARD_BOUNCE,
                detail=f"Hard bounce: {bounce.status_code} {bounce.diagnostic}"[:500],
                source_bounce=bounce,
            )
        )
    rows += [
        Suppression(
            organization=acme,
            address="morgan.optout@initech.test",
            reason=Suppression.Reason.UNSUBSCRIBED,
            detail="Asked on a call not to be emailed.",
            created_by=org_admin,
        ),
        Suppression(
            organization=acme,
            scope=Suppression.Scope.DOMAIN,
            address="competitor.test",
            reason=Suppression.Reason.MANUAL,
            detail="A competitor: nobody there is a prospect.",
            created_by=org_admin,
        ),
    ]
    Suppression.objects.bulk_create(rows)
    # Dated when the bounce happened, not when the demo was loaded (auto_now_add).
    for row in Suppression.objects.filter(organization=acme, source_bounce__isnull=False):
        Suppression.objects.filter(pk=row.pk).update(created_at=row.source_bounce.occurred_at)


def seed(rng: random.Random) -> dict[str, int]:
    now = timezone.now()
    acme = Organization.objects.create(name="Acme Sales", slug="acme", timezone="America/New_York")
    legacy = Organization.objects.create(name="Legacy Corp", slug="legacy", is_legacy=True)
    east = Team.objects.create(
        organization=acme, name="East", send_rate_emails=20, send_rate_seconds=60
    )
    manager = _user(
        "manager@acme.test", acme, User.Role.MANAGER, east, first_name="Morgan", last_name="Lee"
    )
    east.manager = manager
    east.save(update_fields=["manager"])
    rep = _user("rep@acme.test", acme, User.Role.REP, east, first_name="Riley", last_name="Park")
    rep2 = _user("rep2@acme.test", acme, User.Role.REP, east, first_name="Sam", last_name="Cruz")
    org_admin = _user(
        "admin@acme.test", acme, User.Role.ADMIN, first_name="Alex", last_name="Kim", is_staff=True
    )
    org_admin.groups.add(organization_admins_group())
    # The platform operator runs the whole installation: every organization, the internal tables.
    User.objects.create_superuser(
        email="operator@mailroom.test", password=DEMO_PASSWORD, first_name="Ops"
    )
    legacy_team = Team.objects.create(organization=legacy, name="Field sales")
    _user("rep@legacy.test", legacy, User.Role.REP, legacy_team, first_name="Lou")
    owners = {"rep": rep, "rep2": rep2, "manager": manager}

    templates = [
        EmailTemplate.objects.create(
            organization=acme,
            owner=owners[who],
            name=name,
            subject=subject,
            body=body,
            is_shared=shared,
        )
        for who, name, subject, body, shared in TEMPLATES
    ]
    campaign = Campaign.objects.create(
        organization=acme, owner=rep, name="Q4 outbound: RevOps", status=Campaign.Status.ACTIVE
    )
    steps = [
        CampaignStep.objects.create(
            campaign=campaign, position=i + 1, template=templates[t], delay=timedelta(days=d)
        )
        for i, (t, d) in enumerate([(0, 0), (1, 3), (2, 5)])
    ]

    prospects = []
    for i in range(198):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company, domain = COMPANIES[i % len(COMPANIES)]
        local = f"{first}.{last}.{i}".lower().replace("é", "e")
        prospects.append(
            Prospect(
                organization=acme,
                owner=rep if i % 5 < 3 else rep2,
                email=f"{local}@{domain}",
                first_name=first,
                last_name=last,
                company=company,
                title=rng.choice(TITLES),
            )
        )
    # Addresses the sandbox treats specially, so the demo shows a live bounce and a reply.
    prospects += [
        Prospect(
            organization=acme,
            owner=rep,
            email="bounce.jamie@northwind.test",
            first_name="Jamie",
            last_name="Bounce",
            company="Northwind",
            title="CTO",
        ),
        Prospect(
            organization=acme,
            owner=rep,
            email="reply.taylor@globex.test",
            first_name="Taylor",
            last_name="Reply",
            company="Globex",
            title="VP Sales",
        ),
    ]
    Prospect.objects.bulk_create(prospects)
    prospects = list(Prospect.objects.filter(organization=acme).order_by("id"))
    history_prospects = [p for p in prospects if not p.email.startswith(("bounce.", "reply."))]

    emails: list[OutboundEmail] = []
    bounced: list[tuple[int, bool, str, str]] = []
    for day in range(HISTORY_DAYS, 0, -1):
        for sender in (rep, rep2, manager):
            per_day = {rep: 14, rep2: 9, manager: 3}[sender]
            for _ in range(rng.randint(per_day - 3, per_day + 3)):
                prospect = rng.choice(history_prospects)
                template = rng.choice(templates)
                step = rng.choice(steps) if sender == rep and rng.random() < 0.4 else None
                if step is not None:
                    template = step.template
                sent_at = now - timedelta(days=day, minutes=rng.randint(0, 600))
                email = OutboundEmail(
                    organization=acme,
                    sender=sender,
                    prospect=prospect,
                    to_address=prospect.email,
                    subject=template.subject.replace("{{ company }}", prospect.company)
                    .replace("{{ first_name }}", prospect.first_name)
                    .replace("{{ title }}", prospect.title),
                    body=template.body.replace("{{ first_name }}", prospect.first_name)
                    .replace("{{ company }}", prospect.company)
                    .replace("{{ title }}", prospect.title),
                    template=template,
                    campaign_step=step,
                    status=OutboundEmail.Status.SENT,
                    channel_kind="gmail",
                    queued_at=sent_at - timedelta(seconds=30),
                    sent_at=sent_at,
                    message_id=f"<seed-{len(emails)}.acme@mailroom.demo>",
                )
                roll = rng.random()
                if roll < 0.06:
                    email.status = OutboundEmail.Status.BOUNCED
                    email.bounced_at = sent_at + timedelta(minutes=2)
                    code, diagnostic, hard = rng.choice(BOUNCE_REASONS)
                    bounced.append((len(emails), hard, code, diagnostic))
                elif roll < 0.15:
                    email.replied_at = sent_at + timedelta(hours=rng.randint(1, 40))
                emails.append(email)
    # rep2 sends through their own SMTP server (the sandbox's, in `make run`) whose password
    # was changed at the server after it was saved: their last three emails failed with the
    # server's 535, so the demo shows the fix — new password in Email settings, Retry send.
    # The channel keeps the refusal, as the send pipeline leaves it, so Email settings says
    # "Not sending" beside it rather than a green "Connected".
    refused = AUTH_FAILED_REASON
    rep2_smtp = DeliveryChannel.objects.create(
        organization=acme,
        owner=rep2,
        kind=DeliveryChannel.Kind.CUSTOM_SMTP,
        display_name="My SMTP",
        host=settings.MAILROOM_LEGACY_SMTP_HOST or "127.0.0.1",
        port=settings.MAILROOM_LEGACY_SMTP_PORT,
        security=DeliveryChannel.Security.NONE,
        username=settings.MAILROOM_LEGACY_SMTP_USERNAME or "mailroom",
        password="the-old-password",  # noqa: S106 - the demo's outdated credential
        status=DeliveryChannel.Status.CONNECTED,
        last_error=refused,
        connected_at=now - timedelta(days=HISTORY_DAYS),
    )
    ChannelChoice.objects.create(user=rep2, channel=rep2_smtp)
    # Acme's team SMTP: the sandbox's SMTP account sales@acme.test, whose own mailbox (the
    # sandbox's IMAP server, Procfile's --imap-user) receives the bounces of what it sends;
    # Mailroom reads that inbox for them (README, "Bounce and reply tracking": IMAP).
    smtp_host = settings.MAILROOM_LEGACY_SMTP_HOST or "127.0.0.1"
    DeliveryChannel.objects.create(
        organization=acme,
        kind=DeliveryChannel.Kind.CUSTOM_SMTP,
        is_team_default=True,
        display_name="Team SMTP",
        host=smtp_host,
        port=settings.MAILROOM_LEGACY_SMTP_PORT,
        security=DeliveryChannel.Security.NONE,
        username=TEAM_SMTP_LOGIN,
        password="sandbox",  # noqa: S106 - the sandbox account's
        from_domain="acme.test",
        imap_host=smtp_host,
        imap_port=SANDBOX_IMAP_PORT,
        imap_security=DeliveryChannel.Security.STARTTLS,
        imap_username=TEAM_SMTP_LOGIN,
        imap_password="sandbox",  # noqa: S106 - the sandbox account's
        status=DeliveryChannel.Status.CONNECTED,
        connected_at=now - timedelta(days=HISTORY_DAYS),
    )
    rep2_prospects = [p for p in history_prospects if p.owner_id == rep2.pk]
    for i in range(3):
        prospect = rep2_prospects[i]
        emails.append(
            OutboundEmail(
                organization=acme,
                sender=rep2,
                channel=rep2_smtp,
                prospect=prospect,
                to_address=prospect.email,
                subject=f"Quick idea for {prospect.company}'s pipeline",
                body="Hi",
                template=templates[0],
                status=OutboundEmail.Status.FAILED,
                channel_kind="custom_smtp",
                message_id=f"<seed-failed-{i}.acme@mailroom.demo>",
                queued_at=now - timedelta(hours=5 + i, seconds=5),
                failed_at=now - timedelta(hours=5 + i),
                failure_reason=refused,
            )
        )
    OutboundEmail.objects.bulk_create(emails, batch_size=500)
    # auto_now_add stamped the history "now"; the outbox orders by creation, so date each
    # email when it was queued.
    OutboundEmail.objects.filter(organization=acme).update(
        created_at=Coalesce(F("queued_at"), F("failed_at"))
    )
    emails = list(OutboundEmail.objects.filter(organization=acme).order_by("id"))

    bounce_rows, events = [], []
    for index, hard, code, diagnostic in bounced:
        email = emails[index]
        text = diagnostic.format(to=email.to_address)
        bounce_rows.append(
            Bounce(
                organization=acme,
                outbound_email=email,
                source=Bounce.Source.INBOX,
                matched_by=Bounce.MatchedBy.MESSAGE_ID,
                recipient=email.to_address,
                status_code=code,
                diagnostic=text,
                reason=reason_of_reply(text, code),
                is_hard=hard,
                reporting_mta="mx.demo.test",
                occurred_at=email.bounced_at,
            )
        )
        if hard and email.prospect.email_status == Prospect.EmailStatus.VALID:
            email.prospect.email_status = Prospect.EmailStatus.INVALID
            email.prospect.invalid_reason = f"Hard bounce {code}"
            email.prospect.invalidated_at = email.bounced_at
            email.prospect.save(update_fields=["email_status", "invalid_reason", "invalidated_at"])
        events.append(
            feed_event_unsaved(
                organization=acme,
                user=email.sender,
                kind=FeedEvent.Kind.BOUNCED,
                title=bounce_headline_text(
                    recipient=email.to_address,
                    status=code,
                    diagnostic=text,
                    reason=bounce_rows[-1].reason,
                    name=email.prospect.full_name,
                ),
                detail=bounce_detail_texts(subject=email.subject, hard=hard),
                outbound_email=email,
                dedupe_key=f"seed-bounce-{email.pk}",
                read_at=email.bounced_at if email.bounced_at < now - timedelta(days=2) else None,
            )
        )
    Bounce.objects.bulk_create(bounce_rows)
    _suppressions_seed(acme, org_admin)
    for email in emails:
        if email.replied_at:
            events.append(
                feed_event_unsaved(
                    organization=acme,
                    user=email.sender,
                    kind=FeedEvent.Kind.REPLIED,
                    title=feed_text("replied", who=email.prospect.full_name, subject=email.subject),
                    detail=[
                        feed_text("quote", text=REPLY_OPENINGS[email.pk % len(REPLY_OPENINGS)])
                    ],
                    outbound_email=email,
                    dedupe_key=f"seed-reply-{email.pk}",
                    read_at=email.replied_at
                    if email.replied_at < now - timedelta(days=2)
                    else None,
                )
            )
    # The feed lists newest first by id, so ids must follow the time things happened.
    events.sort(key=lambda e: e.outbound_email.bounced_at or e.outbound_email.replied_at)
    FeedEvent.objects.bulk_create(events)
    # bulk_create skips auto_now_add semantics for history: date events when they happened.
    for event in FeedEvent.objects.filter(organization=acme).select_related("outbound_email"):
        happened = event.outbound_email.bounced_at or event.outbound_email.replied_at
        FeedEvent.objects.filter(pk=event.pk).update(created_at=happened)

    enrollments = []
    enrolled = [p for p in history_prospects if p.owner_id == rep.id][:40]
    for i, prospect in enumerate(enrolled):
        state = (
            [Enrollment.State.ACTIVE] * 5
            + [Enrollment.State.FINISHED] * 2
            + [
                Enrollment.State.PAUSED,
                Enrollment.State.STOPPED_REPLIED,
                Enrollment.State.STOPPED_BOUNCED,
            ][:3]
        )
        chosen = state[i % len(state)]
        if prospect.email_status == Prospect.EmailStatus.INVALID:
            chosen = Enrollment.State.STOPPED_BOUNCED
        active = chosen in (Enrollment.State.ACTIVE, Enrollment.State.PAUSED)
        enrollments.append(
            Enrollment(
                campaign=campaign,
                prospect=prospect,
                sender=rep,
                state=chosen,
                next_step=steps[1 + i % 2] if active else None,
                next_due_at=now + timedelta(days=1 + i % 4) if active else None,
                stopped_at=None if active or chosen == Enrollment.State.FINISHED else now,
            )
        )
    Enrollment.objects.bulk_create(enrollments)
    return {
        "organizations": 2,
        "users": User.objects.count(),
        "prospects": len(prospects),
        "emails": len(emails),
        "bounces": len(bounce_rows),
        "enrollments": len(enrollments),
    }
