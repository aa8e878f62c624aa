"""allauth's Google and Microsoft providers with one change: the scopes the user actually
granted are read from the token response and kept on the token allauth hands to
channels_app.adapters (`token.granted_scopes`).

allauth keeps only the access and refresh tokens of the token response; its `scope` is
dropped. Google's granular consent lets a user untick a scope, and a grant without
gmail.readonly (or Mail.Read) still signs in fine, so the scopes asked for say nothing about
what works. Each provider here is allauth's own, registered under the same id through the
`provider_class` setting of SOCIALACCOUNT_PROVIDERS; its views use an OAuth2 adapter whose
`parse_token` also reads `scope` (RFC 6749 5.1: when the response leaves it out, the grant is
what was asked for, and the adapter takes the scopes it asked for). Microsoft's access
tokens are not read for their `scp` claim: Microsoft documents them as opaque to clients,
and its v2 token response always carries `scope`.

Each provider also asks for its sign-in and consent pages in the person's language (Mailroom's
active language for the request): Google's `hl`, OpenID Connect's `ui_locales` for Microsoft."""

from __future__ import annotations

from allauth.socialaccount.models import SocialToken
from django.utils.translation import get_language


class GrantedScopesMixin:
    """For an allauth OAuth2Adapter: `parse_token` keeps the granted scopes on the token."""

    def parse_token(self, data: dict) -> SocialToken:
        token = super().parse_token(data)  # type: ignore[misc]  # mixed into an OAuth2Adapter
        scope = data.get("scope")
        # None: the response named none, so the grant is what was asked for.
        token.granted_scopes = scope.split() if isinstance(scope, str) else None
        return token


class PageLanguageMixin:
    """For an allauth OAuth2Provider: the authorization URL names the page language in
    `language_parameter`, unless the link already does."""

    language_parameter = "hl"

    def get_auth_params_from_request(self, request, action) -> dict:
        params = super().get_auth_params_from_request(request, action)  # type: ignore[misc]
        if language := get_language():
            params.setdefault(self.language_parameter, language)
        return params
