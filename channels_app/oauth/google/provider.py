from allauth.socialaccount.providers.google.provider import GoogleProvider

from .views import GoogleMailboxAdapter


class GoogleMailboxProvider(GoogleProvider):
    """allauth's Google provider, served by channels_app.oauth.google.views."""

    package = "channels_app.oauth.google"
    oauth2_adapter_class = GoogleMailboxAdapter
