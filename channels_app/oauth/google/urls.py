# allauth's login and callback URLs, without its Google One Tap login-by-token URL: a Google
# sign-in is never a way into Mailroom.
from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from .provider import GoogleMailboxProvider

urlpatterns = default_urlpatterns(GoogleMailboxProvider)
