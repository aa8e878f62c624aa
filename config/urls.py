from django.contrib import admin
from django.urls import include, path

from accounts.views import home, language_set
from core.views import favicon

urlpatterns = [
    path("", home, name="home"),
    path("language/", language_set, name="language_set"),
    # Browsers and the Django admin ask for /favicon.ico whatever the page's <link rel="icon">.
    path("favicon.ico", favicon),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("outreach.urls")),
    path("", include("bounces.urls")),
    path("", include("analytics.urls")),
    path("", include("suppression.urls")),
    path("settings/email/", include("channels_app.urls")),
]

handler400 = "core.views.bad_request"
