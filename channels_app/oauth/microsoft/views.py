from allauth.socialaccount.providers.microsoft.views import MicrosoftGraphOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView

from channels_app.oauth import GrantedScopesMixin


class MicrosoftMailboxAdapter(GrantedScopesMixin, MicrosoftGraphOAuth2Adapter):
    pass


oauth2_login = OAuth2LoginView.adapter_view(MicrosoftMailboxAdapter)
oauth2_callback = OAuth2CallbackView.adapter_view(MicrosoftMailboxAdapter)
