from django.contrib import admin
from django.urls import include, path

from accounts.views import home
from core.views import coming_soon

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("outreach.urls")),
    path(
        "analytics/",
        coming_soon,
        {
            "title": "Analytics",
            "issue": "template and campaign analytics",
            "summary": "Per-template and per-campaign sends, bounces and replies, and the team "
            "dashboard.",
        },
        name="analytics",
    ),
    path(
        "feed/",
        coming_soon,
        {
            "title": "Live feed",
            "issue": "the live feed",
            "summary": "Bounces, replies, failures and channel problems as they happen.",
        },
        name="feed",
    ),
    path(
        "settings/email/",
        coming_soon,
        {
            "title": "Email settings",
            "issue": "delivery channels",
            "summary": "Connect Gmail or Outlook, or set up SMTP, to unlock sending.",
        },
        name="email_settings",
    ),
]
