"""The demo's Korean organization, 한빛 세일즈 (Hanbit Sales): its pages default to Korean, one
rep reads them in Korean and its manager has chosen English, so `make run` shows both
languages in one organization. Korean templates with merge fields, prospects with Korean names,
ten days of sending with a few bounces and replies, and a campaign in progress."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from accounts.models import Organization, Team, User
from analytics.feed import feed_event_unsaved, feed_text
from analytics.models import FeedEvent
from bounces.models import Bounce
from bounces.parsing import reason_of_reply
from bounces.services import bounce_detail_texts, bounce_headline_text
from channels_app.models import DeliveryChannel
from outreach.models import (
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
)

SLUG = "hanbit"
HISTORY_DAYS = 10
FAMILY_NAMES = [("김", "kim"), ("이", "lee"), ("박", "park"), ("최", "choi"), ("정", "jung")]
GIVEN_NAMES = [
    ("민준", "minjun"),
    ("서연", "seoyeon"),
    ("지우", "jiwoo"),
    ("하준", "hajun"),
    ("서윤", "seoyun"),
    ("도윤", "doyun"),
]
COMPANIES = [
    ("한빛전자", "hanbit-elec.test"),
    ("새솔물산", "saesol.test"),
    ("누리소프트", "nuri.test"),
    ("미래유통", "mirae.test"),
    ("바다항공", "bada-air.test"),
]
TITLES = ["영업 이사", "마케팅 팀장", "대표", "구매 담당", "CTO"]
TEMPLATES = [
    (
        "소개: 영업 파이프라인",
        "{{ company }}의 영업 파이프라인에 대한 제안",
        "{{ first_name }}님, 안녕하세요.\n\n{{ company }} 같은 팀들이 Mailroom으로 영업 메일이 "
        "스팸함에 빠지지 않도록 관리하고 있습니다.\n다음 주에 15분 정도 통화 가능하실까요?\n",
    ),
    (
        "후속: 도입 사례",
        "Re: {{ company }}의 영업 파이프라인에 대한 제안",
        "{{ first_name }}님, 안녕하세요.\n\n지난번 메일에 이어 두 쪽짜리 도입 사례를 보내 드려도 "
        "될까요?\n",
    ),
    (
        "행사 초대",
        "{{ first_name }}님, 레브옵스 라운드테이블에 초대합니다",
        "{{ first_name }}님, 안녕하세요.\n\n{{ title }}분들을 모시고 작은 라운드테이블을 엽니다. "
        "관심 있으신가요?\n",
    ),
]
BOUNCES = [
    ("5.1.1", "550 5.1.1 <{to}>: 수신자를 찾을 수 없습니다 (User unknown)", True),
    ("5.2.2", "552 5.2.2 메일함이 가득 찼습니다 (Mailbox full)", False),
]
REPLIES = [
    "연락 주셔서 감사합니다. 12명 팀 기준 견적을 보내 주시겠어요?",
    "다음 주 화요일 오전 10시에 통화 가능합니다.",
]


def _fill(text: str, prospect: Prospect) -> str:
    return (
        text.replace("{{ first_name }}", prospect.first_name)
        .replace("{{ company }}", prospect.company)
        .replace("{{ title }}", prospect.title)
    )


def seed_korean(rng: random.Random, *, now: datetime, password: str, smtp_login: str) -> int:
    """Create the organization (once); returns how many emails its history holds."""
    org = Organization.objects.create(
        name="한빛 세일즈", slug=SLUG, timezone="Asia/Seoul", language="ko"
    )
    team = Team.objects.create(organization=org, name="서울 1팀", send_rate_emails=20)
    manager = User.objects.create_user(
        email="manager@hanbit.test",
        password=password,
        organization=org,
        role=User.Role.MANAGER,
        team=team,
        first_name="Daniel",
        last_name="Cho",
        language="en",  # reads Mailroom in English; his team in Korean
    )
    team.manager = manager
    team.save(update_fields=["manager"])
    rep = User.objects.create_user(
        email="rep@hanbit.test",
        password=password,
        organization=org,
        role=User.Role.REP,
        team=team,
        first_name="지민",
        last_name="김",
    )
    DeliveryChannel.objects.create(
        organization=org,
        kind=DeliveryChannel.Kind.CUSTOM_SMTP,
        is_team_default=True,
        display_name="팀 SMTP",
        host=settings.MAILROOM_LEGACY_SMTP_HOST or "127.0.0.1",
        port=settings.MAILROOM_LEGACY_SMTP_PORT,
        security=DeliveryChannel.Security.NONE,
        username=smtp_login,
        password="sandbox",  # noqa: S106 - the sandbox account's
        from_domain="hanbit.test",
        status=DeliveryChannel.Status.CONNECTED,
        connected_at=now - timedelta(days=HISTORY_DAYS),
    )
    templates = [
        EmailTemplate.objects.create(
            organization=org,
            owner=rep if i < 2 else manager,
            name=name,
            subject=subject,
            body=body,
            is_shared=i == 2,
        )  # fmt: skip
        for i, (name, subject, body) in enumerate(TEMPLATES)
    ]
    campaign = Campaign.objects.create(
        organization=org, owner=rep, name="4분기 신규 고객 발굴", status=Campaign.Status.ACTIVE
    )
    steps = [
        CampaignStep.objects.create(
            campaign=campaign, position=1, template=templates[0], delay=timedelta(0)
        ),
        CampaignStep.objects.create(
            campaign=campaign, position=2, template=templates[1], delay=timedelta(days=3)
        ),
    ]
    prospects = []
    for i in range(30):
        family, family_roman = FAMILY_NAMES[i % len(FAMILY_NAMES)]
        given, given_roman = GIVEN_NAMES[(i * 7) % len(GIVEN_NAMES)]
        company, domain = COMPANIES[i % len(COMPANIES)]
        prospects.append(
            Prospect(
                organization=org,
                owner=rep,
                email=f"{given_roman}.{family_roman}.{i}@{domain}",
                first_name=given,
                last_name=family,
                company=company,
                title=rng.choice(TITLES),
            )
        )
    Prospect.objects.bulk_create(prospects)
    prospects = list(Prospect.objects.filter(organization=org).order_by("id"))

    emails = []
    for day in range(HISTORY_DAYS, 0, -1):
        for _ in range(rng.randint(4, 8)):
            prospect = rng.choice(prospects)
            template = rng.choice(templates)
            sent_at = now - timedelta(days=day, minutes=rng.randint(0, 480))
            emails.append(
                OutboundEmail(
                    organization=org,
                    sender=rep,
                    prospect=prospect,
                    to_address=prospect.email,
                    subject=_fill(template.subject, prospect),
                    body=_fill(template.body, prospect),
                    template=template,
                    status=OutboundEmail.Status.SENT,
                    channel_kind="custom_smtp",
                    queued_at=sent_at - timedelta(seconds=20),
                    sent_at=sent_at,
                    message_id=f"<seed-{len(emails)}.hanbit@mailroom.demo>",
                )
            )
    for index, email in enumerate(emails):
        if index % 13 == 5:
            email.status = OutboundEmail.Status.BOUNCED
            email.bounced_at = email.sent_at + timedelta(minutes=3)
        elif index % 9 == 4:
            email.replied_at = email.sent_at + timedelta(hours=5)
    OutboundEmail.objects.bulk_create(emails)
    OutboundEmail.objects.filter(organization=org).update(created_at=F("queued_at"))
    emails = list(
        OutboundEmail.objects.filter(organization=org).select_related("prospect").order_by("id")
    )

    bounces, events = [], []
    for email in emails:
        if email.status == OutboundEmail.Status.BOUNCED:
            code, diagnostic, hard = BOUNCES[email.pk % len(BOUNCES)]
            text = diagnostic.format(to=email.to_address)
            reason = reason_of_reply(text, code)
            bounces.append(
                Bounce(
                    organization=org,
                    outbound_email=email,
                    source=Bounce.Source.INBOX,
                    matched_by=Bounce.MatchedBy.MESSAGE_ID,
                    recipient=email.to_address,
                    status_code=code,
                    diagnostic=text,
                    reason=reason,
                    is_hard=hard,
                    reporting_mta="mx.hanbit.test",
                    occurred_at=email.bounced_at,
                )
            )
            if hard:
                Prospect.objects.filter(pk=email.prospect_id).update(
                    email_status=Prospect.EmailStatus.INVALID,
                    invalid_reason=f"Hard bounce {code}",
                    invalidated_at=email.bounced_at,
                )
            events.append(
                feed_event_unsaved(
                    organization=org,
                    user=rep,
                    kind=FeedEvent.Kind.BOUNCED,
                    title=bounce_headline_text(
                        recipient=email.to_address,
                        status=code,
                        diagnostic=text,
                        reason=reason,
                        name=email.prospect.full_name,
                    ),
                    detail=bounce_detail_texts(subject=email.subject, hard=hard),
                    outbound_email=email,
                    dedupe_key=f"seed-bounce-{email.pk}",
                )
            )
        elif email.replied_at:
            events.append(
                feed_event_unsaved(
                    organization=org,
                    user=rep,
                    kind=FeedEvent.Kind.REPLIED,
                    title=feed_text("replied", who=email.prospect.full_name, subject=email.subject),
                    detail=[feed_text("quote", text=REPLIES[email.pk % len(REPLIES)])],
                    outbound_email=email,
                    dedupe_key=f"seed-reply-{email.pk}",
                )
            )
    Bounce.objects.bulk_create(bounces)
    events.sort(key=lambda e: e.outbound_email.bounced_at or e.outbound_email.replied_at)
    FeedEvent.objects.bulk_create(events)
    for event in FeedEvent.objects.filter(organization=org).select_related("outbound_email"):
        happened = event.outbound_email.bounced_at or event.outbound_email.replied_at
        FeedEvent.objects.filter(pk=event.pk).update(created_at=happened)

    Enrollment.objects.bulk_create(
        Enrollment(
            campaign=campaign,
            prospect=prospect,
            sender=rep,
            state=Enrollment.State.ACTIVE,
            next_step=steps[1],
            next_due_at=now + timedelta(days=1 + i % 3),
        )
        for i, prospect in enumerate(prospects[:10])
        if prospect.email_status == Prospect.EmailStatus.VALID
    )
    return len(emails)
