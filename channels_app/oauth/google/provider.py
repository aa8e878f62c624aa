from allauth.socialaccount.providers.google.provider import GoogleProvider

from channels_app.oauth import PageLanguageMixin

from .views import GoogleMailboxAdapter


class GoogleMailboxProvider(PageLanguageMixin, GoogleProvider):
    """allauth's Google provider, served by channels_app.oauth.google.views; Google's pages in
    the person's language (`hl`)."""

    package = "channels_app.oauth.google"
    oauth2_adapter_class = GoogleMailboxAdapter
