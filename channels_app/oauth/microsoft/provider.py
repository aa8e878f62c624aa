from allauth.socialaccount.providers.microsoft.provider import MicrosoftGraphProvider

from channels_app.oauth import PageLanguageMixin

from .views import MicrosoftMailboxAdapter


class MicrosoftMailboxProvider(PageLanguageMixin, MicrosoftGraphProvider):
    """allauth's Microsoft provider, served by channels_app.oauth.microsoft.views; Microsoft's
    pages in the person's language (OpenID Connect's `ui_locales`)."""

    language_parameter = "ui_locales"

    package = "channels_app.oauth.microsoft"
    oauth2_adapter_class = MicrosoftMailboxAdapter
