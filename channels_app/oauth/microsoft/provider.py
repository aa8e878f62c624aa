from allauth.socialaccount.providers.microsoft.provider import MicrosoftGraphProvider

from .views import MicrosoftMailboxAdapter


class MicrosoftMailboxProvider(MicrosoftGraphProvider):
    """allauth's Microsoft provider, served by channels_app.oauth.microsoft.views."""

    package = "channels_app.oauth.microsoft"
    oauth2_adapter_class = MicrosoftMailboxAdapter
