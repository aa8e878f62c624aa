from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from .provider import MicrosoftMailboxProvider

urlpatterns = default_urlpatterns(MicrosoftMailboxProvider)
