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
and its v2 token response always carries `scope`."""

from __future__ import annotations

from allauth.socialaccount.models import SocialToken


class GrantedScopesMixin:
    """For an allauth OAuth2Adapter: `parse_token` keeps the granted scopes on the token."""

    def parse_token(self, data: dict) -> SocialToken:
        token = super().parse_token(data)  # type: ignore[misc]  # mixed into an OAuth2Adapter
        scope = data.get("scope")
        # None: the response named none, so the grant is what was asked for.
        token.granted_scopes = scope.split() if isinstance(scope, str) else None
        return token
