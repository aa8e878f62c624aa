from django.contrib import admin
from django.urls import include, path

from accounts.views import home

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("outreach.urls")),
    path("", include("bounces.urls")),
    path("", include("analytics.urls")),
    path("settings/email/", include("channels_app.urls")),
]
