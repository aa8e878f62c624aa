"""Korean and English (issue 17): the Korean catalogue is complete and current, and each person
reads pages in their own language — their choice, else their organization's, else their
browser's."""

import gettext
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from analytics.feed import feed_event_record
from analytics.models import FeedEvent
from analytics.services import analytics_refresh
from bounces.models import Bounce
from bounces.services import bounce_record_send_rejection
from outreach.services import api_token_create
from suppression.links import unsubscribe_url
from tests.factories import (
    CampaignFactory,
    DeliveryChannelFactory,
    EmailTemplateFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The same as the Makefile's `messages` target.
IGNORE = ["--ignore=.venv", "--ignore=var", "--ignore=tests", "--ignore=bench"]
COPY_IGNORE = shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "node_modules", "tests")


def _gettext(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def test_every_string_has_a_korean_translation_none_fuzzy(tmp_path):
    """makemessages on a copy of the project: no new, untranslated or fuzzy entry appears."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE, symlinks=True)
    _gettext(
        sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-obsolete",
        "--no-location", *IGNORE, cwd=copy,
    )  # fmt: skip
    fresh = copy / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    untranslated = _gettext("msgattrib", "--untranslated", "--no-wrap", str(fresh), cwd=copy)
    fuzzy = _gettext("msgattrib", "--only-fuzzy", "--no-wrap", str(fresh), cwd=copy)
    assert "msgid" not in untranslated, f"untranslated Korean entries:\n{untranslated[:3000]}"
    assert "msgid" not in fuzzy, f"fuzzy Korean entries:\n{fuzzy[:3000]}"


def test_the_committed_catalogue_is_compiled(tmp_path):
    compiled = tmp_path / "django.mo"
    _gettext("msgfmt", "--check", "-o", str(compiled), str(PO), cwd=tmp_path)
    with compiled.open("rb") as fresh, MO.open("rb") as committed:
        assert (
            gettext.GNUTranslations(fresh)._catalog == gettext.GNUTranslations(committed)._catalog
        ), "locale/ko is not compiled: run `make messages`"


@pytest.fixture
def korean_rep(org, team):
    return UserFactory(organization=org, team=team, role="rep", language="ko")


def test_a_korean_rep_and_an_english_manager_of_one_organization(client, korean_rep, manager):
    client.force_login(korean_rep)
    page = client.get(reverse("home")).content.decode()
    assert 'lang="ko"' in page and "발송함" in page and "라이브 피드" in page
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in page and "Outbox" in page and "발송함" not in page


def test_the_organizations_default_then_the_browsers_language(client, rep, org):
    client.force_login(rep)
    assert "Outbox" in client.get(reverse("home")).content.decode()
    assert (
        "발송함"
        in client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9").content.decode()
    )
    org.language = "ko"
    org.save()
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "발송함" in page  # the organization's default beats the browser
    rep.language = "en"
    rep.save()
    assert "Outbox" in client.get(reverse("home")).content.decode()  # the user's own choice


def test_the_switcher_keeps_the_choice_on_the_profile_and_returns_to_the_page(client, rep):
    client.force_login(rep)
    answer = client.post(reverse("language_set"), {"language": "ko", "next": "/outbox/"})
    assert answer.status_code == 302 and answer["Location"] == "/outbox/"
    rep.refresh_from_db()
    assert rep.language == "ko"
    assert "발송함" in client.get(reverse("home")).content.decode()
    answer = client.post(reverse("language_set"), {"language": "xx", "next": "https://evil.test/"})
    assert answer["Location"] == "/"  # no open redirect, and an unknown language resets
    rep.refresh_from_db()
    assert rep.language == ""


def test_before_signing_in_the_switcher_uses_a_cookie(client):
    client.post(reverse("language_set"), {"language": "ko", "next": reverse("account_login")})
    page = client.get(reverse("account_login")).content.decode()
    assert 'lang="ko"' in page


def test_the_unsubscribe_page_speaks_the_recipients_language_else_the_organizations(
    client, rep, org
):
    path = unsubscribe_url(organization_id=org.pk, address="ana@prospect.test").split("://", 1)[1]
    path = path[path.index("/") :]
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5").content.decode()
    assert "수신을 거부하시겠습니까?" in page and 'lang="ko"' in page
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    assert "Unsubscribe ana@prospect.test?" in page  # neither language asked: English
    org.language = "ko"
    org.save()
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    assert "수신을 거부하시겠습니까?" in page  # the sending organization's default
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "Unsubscribe ana@prospect.test?" in page  # the recipient's own language first


def test_a_page_the_role_does_not_allow_in_korean(client, korean_rep):
    client.force_login(korean_rep)
    body = client.get(reverse("suppressions")).content.decode()
    assert "이 페이지를 열 수 없습니다" in body
    assert "발송 제외 목록은 조직 관리자만 관리할 수 있습니다." in body


def test_a_missing_page_in_korean(client, korean_rep):
    client.force_login(korean_rep)
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert "페이지를 찾을 수 없습니다" in answer.content.decode()


# --- The live feed ------------------------------------------------------------------------------


def _bounced_three_minutes_ago(sender):
    channel = DeliveryChannelFactory(owner=sender, mailbox_address="jimin@acme.test")
    prospect = ProspectFactory(
        organization=sender.organization, email="ana@acme.com", first_name="Ana", last_name="Lima"
    )
    email = OutboundEmailFactory(
        sender=sender, channel=channel, prospect=prospect, subject="Quick idea"
    )
    bounce_record_send_rejection(
        email=email,
        recipient="ana@acme.com",
        status="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        hard=True,
    )
    three_minutes_ago = timezone.now() - timedelta(minutes=3, seconds=5)
    FeedEvent.objects.update(created_at=three_minutes_ago)
    Bounce.objects.update(occurred_at=three_minutes_ago)


def test_one_bounce_in_the_feed_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    _bounced_three_minutes_ago(korean_rep)

    client.force_login(korean_rep)
    page = client.get(reverse("feed")).content.decode()
    assert "Ana Lima에게 보낸 이메일이 바운스되었습니다: 존재하지 않는 주소 (5.1.1)" in page
    assert (
        "“Quick idea”의 하드 바운스입니다. 이 주소는 무효로 표시되었고 해당 캠페인은 "
        "중단되었습니다." in page
    )
    assert "3분 전" in page and "읽음으로 표시" in page and "서버 응답 내용" in page
    assert 'data-live="● 실시간"' in page and 'data-loading="불러오는 중…"' in page
    for english in ("Email to Ana Lima", "Hard bounce", "3 min ago", "Mark read", "Live feed"):
        assert english not in page, english

    client.force_login(manager)
    page = client.get(reverse("feed"), {"scope": "team"}).content.decode()
    assert "Email to Ana Lima bounced: Address does not exist (5.1.1)" in page
    assert (
        "Hard bounce of “Quick idea”. The address is marked invalid and its campaigns are "
        "stopped." in page
    )
    assert "3 min ago" in page and "Team's feed" in page and 'data-live="● Live"' in page
    assert "바운스" not in page and "3분 전" not in page


def test_the_feeds_polling_answers_in_the_readers_language(client, korean_rep):
    _bounced_three_minutes_ago(korean_rep)
    client.force_login(korean_rep)
    rows = client.get(reverse("feed_events"), {"scope": "mine", "after": 0}).json()["html"]
    assert "바운스되었습니다" in rows and "3분 전" in rows and "bounced:" not in rows


def test_an_event_is_stored_in_english_whatever_language_wrote_it(client, korean_rep, rep):
    """An unsubscribe page in Korean writes the rep's event: stored in English, shown to each
    reader in their own language."""
    email = OutboundEmailFactory(sender=rep, to_address="bo@globex.test", subject="Hello")
    url = unsubscribe_url(
        organization_id=rep.organization_id, address=email.to_address, email_id=email.pk
    )
    path = url.split("://", 1)[1]
    client.post(path[path.index("/") :], HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")
    event = FeedEvent.objects.get(user=rep)
    assert event.title == "bo@globex.test unsubscribed"

    client.force_login(rep)
    assert "bo@globex.test unsubscribed" in client.get(reverse("feed")).content.decode()
    rep.language = "ko"
    rep.save()
    page = client.get(reverse("feed")).content.decode()
    assert "bo@globex.test 님이 수신 거부했습니다" in page
    assert "“Hello”에서 수신 거부했습니다." in page and "globex.test unsubscribed" not in page


def test_an_event_written_before_messages_shows_its_stored_words(client, korean_rep):
    feed_event_record(user=korean_rep, kind=FeedEvent.Kind.REPLIED, title="Ana replied to “Hi”")
    client.force_login(korean_rep)
    page = client.get(reverse("feed")).content.decode()
    assert "Ana replied to “Hi”" in page and "답장" in page


# --- The outbox and Compose -----------------------------------------------------------------------


def test_the_outbox_in_korean_for_the_rep_and_english_for_the_manager(client, korean_rep, manager):
    channel = DeliveryChannelFactory(owner=korean_rep, mailbox_address="jimin@acme.test")
    failed = {"status": "failed", "sent_at": None, "failure_reason": "Authentication unsuccessful"}
    OutboundEmailFactory.create_batch(2, sender=korean_rep, channel=channel, **failed)

    client.force_login(korean_rep)
    page = client.get(reverse("outbox")).content.decode()
    assert "<h1>발송함</h1>" in page and "다시 보내기" in page and "선택 항목 다시 시도" in page
    assert "Gmail에서 실패한 2건 모두 다시 시도 (jimin@acme.test)" in page
    assert "Authentication unsuccessful" in page  # the server's own words, as written
    assert 'data-some="{count}건 선택됨"' in page
    for english in ("Retry send", "Retry all 2 failed", "Tick emails", "Why / what happened"):
        assert english not in page, english

    client.force_login(manager)
    page = client.get(reverse("outbox")).content.decode()
    assert "<h1>Outbox</h1>" in page and "Retry all 2 failed on Gmail (jimin@acme.test)" in page
    assert "Retry send" in page and "다시 보내기" not in page


def test_outbox_messages_follow_the_readers_language(client, korean_rep):
    email = OutboundEmailFactory(
        sender=korean_rep,
        status="scheduled",
        sent_at=None,
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    client.force_login(korean_rep)
    page = client.post(
        reverse("outbox_bulk"), {"bulk": "cancel", "emails": [email.pk]}, follow=True
    ).content.decode()
    assert "이메일 1건을 취소했습니다." in page and "Cancelled 1 email" not in page
    page = client.post(reverse("outbox_bulk"), {"bulk": "retry"}, follow=True).content.decode()
    assert "먼저 이메일을 선택하세요." in page and "Tick the emails first." not in page


def test_compose_in_korean_and_in_english(client, korean_rep, manager):
    ProspectFactory(organization=korean_rep.organization, owner=korean_rep)
    client.force_login(korean_rep)
    page = client.get(reverse("compose")).content.decode()
    assert (
        "<h1>이메일 작성</h1>" in page
        and "Gmail 또는 Outlook을 연결하시면 발송할 수 있습니다." in page
    )
    assert "받는 사람" in page and "병합 필드" in page and "잠재 고객의 이름" in page
    assert 'data-no-match="“{query}”과(와) 일치하는 내 잠재 고객이 없습니다."' in page
    for english in ("Connect Gmail or Outlook", "Merge fields", "The prospect's first name"):
        assert english not in page, english
    page = client.post(
        reverse("compose"), {"to": "nobody-like-this", "subject": "s", "body": "b"}
    ).content.decode()
    assert "“nobody-like-this”과(와) 일치하는 내 잠재 고객이 없습니다." in page

    client.force_login(manager)
    page = client.get(reverse("compose")).content.decode()
    assert "<h1>Compose</h1>" in page and "Connect Gmail or Outlook to unlock sending." in page
    assert "Merge fields" in page and "병합 필드" not in page


def _each_page_in_its_readers_language(client, korean_rep, manager, pages):
    """pages: url -> (Korean words, English words); the Korean rep reads the first and not the
    second, the English manager the other way round."""
    for user, language in ((korean_rep, 0), (manager, 1)):
        client.force_login(user)
        for url, words in pages.items():
            page = client.get(url).content.decode()
            assert words[language] in page, (url, words[language])
            assert words[1 - language] not in page, (url, words[1 - language])


# --- Prospects ------------------------------------------------------------------------------------


def test_the_prospect_pages_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    prospect = ProspectFactory(
        organization=korean_rep.organization, owner=korean_rep, first_name="민준", last_name="김"
    )
    pages = {
        reverse("prospects"): ("CSV 가져오기", "Import CSV"),
        reverse("prospect_detail", args=[prospect.pk]): (
            "진행 중인 캠페인에 등록되어 있지 않습니다.",
            "They are in no running campaign.",
        ),
        reverse("prospect_edit", args=[prospect.pk]): ("직함", "Title"),
        reverse("prospect_new"): ("잠재 고객 추가", "Add a prospect"),
        reverse("prospect_import_new"): (
            "CSV 파일에서 잠재 고객 가져오기",
            "Import prospects from a CSV file",
        ),
    }
    _each_page_in_its_readers_language(client, korean_rep, manager, pages)

    client.force_login(korean_rep)
    page = client.get(reverse("prospects"), {"q": "nobody"}).content.decode()
    assert "검색어와 필터에 맞는 잠재 고객이 없습니다. 검색어: “nobody”." in page
    answer = client.post(
        reverse("prospect_import_new"),
        {"file": SimpleUploadedFile("blank.csv", b"\n\n", content_type="text/csv")},
    )
    assert "파일이 비어 있습니다." in answer.content.decode()


# --- Bounces --------------------------------------------------------------------------------------


def test_the_bounces_page_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    _bounced_three_minutes_ago(korean_rep)
    client.force_login(korean_rep)
    page = client.get(reverse("bounces")).content.decode()
    assert "바운스된 이메일" in page and "존재하지 않는 주소" in page and "3분 전" in page
    assert "하드와 소프트 모두" in page and ">하드</span>" in page
    for english in ("Bounced emails", "Address does not exist", "3 min ago", "Hard and soft"):
        assert english not in page, english
    page = client.get(reverse("bounces"), {"tab": "mailboxes"}).content.decode()
    assert "지금 확인" in page and "Check now" not in page

    client.force_login(manager)
    page = client.get(reverse("bounces")).content.decode()
    assert "Bounced emails" in page and "Address does not exist" in page and "3 min ago" in page
    assert "바운스된 이메일" not in page


# --- Analytics ------------------------------------------------------------------------------------


def test_the_dashboards_in_korean_with_korean_dates_and_english_for_the_manager(
    client, korean_rep, manager
):
    _bounced_three_minutes_ago(korean_rep)
    analytics_refresh(organization_id=korean_rep.organization_id)
    today = timezone.localdate()
    client.force_login(korean_rep)
    page = client.get(reverse("analytics")).content.decode()
    assert "내 대시보드" in page and "바운스율(오른쪽 축)" in page and "수치 계산 방법" in page
    assert f"{today.year}년 {today.month}월 {today.day}일" in page  # 2026년 12월 2일
    assert re.search(r">\d{1,2}월 \d{1,2}일</text>", page)  # the chart's day labels
    for english in ("My dashboard", "bounce rate (right axis)", "How the figures are counted"):
        assert english not in page, english
    for name in ("analytics_templates", "analytics_campaigns"):
        page = client.get(reverse(name)).content.decode()
        assert "수치 계산 방법" in page and "How the figures are counted" not in page, name

    client.force_login(manager)
    page = client.get(reverse("analytics")).content.decode()
    assert "Team dashboard" in page and "bounce rate (right axis)" in page
    assert f"{today:%b} {today.day}, {today.year}" in page  # Dec 2, 2026, as before
    assert "년" not in page


# --- Template and campaign pages ------------------------------------------------------------------


def test_template_and_campaign_pages_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    template = EmailTemplateFactory(owner=korean_rep, is_shared=True)
    campaign = CampaignFactory(owner=korean_rep)
    pages = {
        reverse("template_detail", args=[template.pk]): ("복제", "Duplicate"),
        reverse("template_new"): ("템플릿 저장", "Save template"),
        reverse("campaign_new"): ("캠페인 만들기", "Create campaign"),
        reverse("campaign_detail", args=[campaign.pk]): ("단계 추가", "Add step"),
    }
    _each_page_in_its_readers_language(client, korean_rep, manager, pages)

    client.force_login(korean_rep)
    answer = client.post(
        reverse("campaign_status", args=[campaign.pk]), {"status": "active"}, follow=True
    )
    assert "캠페인을 시작하기 전에 단계를 추가하세요." in answer.content.decode()


def test_api_tokens_and_the_signature_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    pages = {
        reverse("api_tokens"): ("토큰 만들기", "Create token"),
        reverse("profile"): ("<h1>내 서명</h1>", "<h1>Your signature</h1>"),
    }
    _each_page_in_its_readers_language(client, korean_rep, manager, pages)
    client.force_login(korean_rep)
    page = client.post(reverse("profile"), {"signature": "지민 드림"}, follow=True)
    assert "서명을 저장했습니다." in page.content.decode()


def test_the_admin_names_mailrooms_models_in_the_readers_language(client, org):
    admin = UserFactory(organization=org, is_staff=True, is_superuser=True, language="ko")
    client.force_login(admin)
    page = client.get(reverse("admin:index")).content.decode()
    assert "배달 채널" in page and "잠재 고객 가져오기" in page and "발송 제외 정책" in page
    assert "Delivery channels" not in page and "Prospect imports" not in page
    admin.language = "en"
    admin.save()
    page = client.get(reverse("admin:index")).content.decode()
    assert "Delivery channels" in page and "Prospect imports" in page and "배달 채널" not in page


# --- The API's messages ---------------------------------------------------------------------------


def test_the_apis_messages_follow_the_requests_language_and_codes_stay_english(
    client, korean_rep, rep
):
    _, korean_token = api_token_create(user=korean_rep, name="Outlook")
    _, english_token = api_token_create(user=rep, name="Outlook")

    def post(token, **headers):
        return client.post(
            reverse("api_emails"),
            data="[]",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            **headers,
        ).json()

    korean = post(korean_token)  # no Accept-Language: the token owner's language
    assert korean == {"error": "invalid_json", "message": "요청 본문은 JSON 객체여야 합니다."}
    assert post(english_token)["message"] == "The body must be a JSON object."
    asked = post(english_token, HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")
    assert (
        asked["error"] == "invalid_json" and asked["message"] == "요청 본문은 JSON 객체여야 합니다."
    )
    assert post(korean_token, HTTP_ACCEPT_LANGUAGE="en-US")["message"] == (
        "The body must be a JSON object."
    )


def test_the_suppression_list_in_korean_for_a_korean_admin(client, org, org_admin):
    korean_admin = UserFactory(organization=org, role="admin", language="ko")
    pages = {
        reverse("suppressions"): ("주소 또는 도메인 전체 추가", "Add an address or a whole domain")
    }
    _each_page_in_its_readers_language(client, korean_admin, org_admin, pages)
    client.force_login(korean_admin)
    page = client.post(
        reverse("suppressions"), {"value": "bo@globex.test", "reason": "manual"}, follow=True
    ).content.decode()
    assert "bo@globex.test을(를) 발송 제외했습니다." in page and "연락 금지" in page
    # What the list's own checks say about a value it cannot take is Korean too.
    for typed, said in (
        ("bo@", "“bo@”은(는) 올바른 이메일 주소가 아닙니다"),
        ("globex", "“globex”은(는) 이메일 주소도 도메인 이름도 아닙니다."),
        ("not a domain!", "“not a domain!”은(는) 이메일 주소도 도메인 이름도 아닙니다."),
    ):
        page = client.post(
            reverse("suppressions"), {"value": typed, "reason": "manual"}
        ).content.decode()
        assert said in page, typed


def test_email_settings_in_korean_for_the_rep_and_english_for_the_manager(
    client, korean_rep, manager
):
    pages = {
        reverse("email_settings"): ("추천: 내 메일함 연결", "Recommended: connect your own mailbox")
    }
    _each_page_in_its_readers_language(client, korean_rep, manager, pages)
    client.force_login(korean_rep)
    page = client.post(
        reverse("channel_smtp_save", args=["own"]), {"own-host": "smtp.gmail.com"}
    ).content.decode()
    assert "Gmail은(는) SMTP 로그인 정보로 연결할 수 없습니다." in page
