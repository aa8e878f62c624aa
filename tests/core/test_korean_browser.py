"""Korean pages in a real browser (issue 17 item 6): the signed-in pages and the sign-in page
render in Korean with real Korean glyphs (the Noto CJK fonts .ci/run installs), without
sideways scrolling at a phone's 390 px or a desktop's 1280 px, and the switcher changes the
language in place."""

import subprocess

import pytest

from tests.browser import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/outbox/",
    "/compose/",
    "/prospects/",
    "/prospects/import/",
    "/feed/",
    "/bounces/",
    "/analytics/",
    "/templates/new/",
    "/campaigns/new/",
    "/settings/api-tokens/",
    "/settings/email/",
]


def _hangul_fonts() -> str:
    """The fonts Chromium can draw Hangul with (fontconfig's list for Korean); without one,
    Korean pages show empty boxes. .ci/run installs Debian's fonts-noto-cjk."""
    done = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True)
    return done.stdout


@pytest.mark.parametrize("width", [390, 1280])
def test_korean_pages_fit_and_have_korean_glyphs(live_server, page, org, team, width):
    rep = UserFactory(organization=org, team=team, role="rep", language="ko", first_name="지민")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, rep)
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.lang") == "ko", path
        assert page.evaluate("document.documentElement.scrollWidth") == width, path
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "안녕하세요, 지민님"
    assert page.locator("nav.mainnav").inner_text().split()[:1] == ["발송함"]
    assert "Noto Sans CJK" in _hangul_fonts()


def test_the_switcher_changes_the_language_in_place(live_server, page, rep):
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/outbox/")
    assert page.locator("nav.mainnav a").first.inner_text() == "Outbox"
    page.select_option("#language-choice", "ko")
    page.locator(".language-switcher button").click()
    page.wait_for_url(f"{live_server.url}/outbox/")
    assert page.locator("nav.mainnav a").first.inner_text() == "발송함"


def test_the_sign_in_page_follows_the_browsers_language(live_server, browser_ko_page):
    browser_ko_page.goto(f"{live_server.url}/accounts/login/")
    assert browser_ko_page.locator("button.primary").inner_text() == "로그인"


@pytest.fixture
def browser_ko_page(page):
    page.set_extra_http_headers({"Accept-Language": "ko-KR,ko;q=0.9"})
    return page


def test_the_live_feed_keeps_korean_while_it_polls(live_server, page, org, team):
    from analytics.feed import feed_event_record, feed_text
    from analytics.models import FeedEvent

    rep = UserFactory(organization=org, team=team, role="rep", language="ko")
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/feed/")
    feed_event_record(
        user=rep, kind=FeedEvent.Kind.REPLIED, title=feed_text("replied", who="Ana", subject="Hi")
    )
    first = page.locator("li.feed-event").first
    first.wait_for(timeout=10_000)  # a poll brought it
    assert first.locator(".feed-title").inner_text() == "Ana 님이 “Hi”에 답장했습니다"
    assert first.locator("time").inner_text() == "방금"
    assert page.locator("#feed-status").inner_text() == "● 실시간"  # the poll rewrote it
