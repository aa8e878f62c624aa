from django.test import RequestFactory, override_settings

from core.context_processors import navigation


def banners_a(request):
    return {"channel_banners": [{"text": "a"}], "feed_unread_count": 1}


def banners_b(request):
    return {"channel_banners": [{"text": "b"}]}


@override_settings(
    MAILROOM_NAVIGATION_CONTEXT=[
        "tests.core.test_navigation.banners_a",
        "tests.core.test_navigation.banners_b",
    ]
)
def test_banners_from_several_apps_are_all_shown(rep):
    request = RequestFactory().get("/")
    request.user = rep
    context = navigation(request)
    assert [b["text"] for b in context["channel_banners"]] == ["a", "b"]
    assert context["feed_unread_count"] == 1


def invitation_and_problem(request):
    return {
        "channel_banners": [
            {"level": "info", "text": "Connect Gmail or Outlook to unlock sending."},
            {"level": "error", "text": "Gmail needs reconnecting."},
        ]
    }


@override_settings(
    MAILROOM_NAVIGATION_CONTEXT=["tests.core.test_navigation.invitation_and_problem"]
)
def test_invitations_are_banners_for_reps_and_quiet_notes_for_others(rep, manager, org_admin):
    request = RequestFactory().get("/")
    request.user = rep
    assert len(navigation(request)["channel_banners"]) == 2
    for user in (manager, org_admin):
        request.user = user
        context = navigation(request)
        assert [b["text"] for b in context["channel_banners"]] == ["Gmail needs reconnecting."]
        assert [n["level"] for n in context["setup_notes"]] == ["info"]
