from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView

from channels_app.oauth import GrantedScopesMixin


class GoogleMailboxAdapter(GrantedScopesMixin, GoogleOAuth2Adapter):
    pass


oauth2_login = OAuth2LoginView.adapter_view(GoogleMailboxAdapter)
oauth2_callback = OAuth2CallbackView.adapter_view(GoogleMailboxAdapter)
