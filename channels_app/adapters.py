"""django-allauth, used only to connect mailboxes ("Connect Gmail", "Connect Outlook").

Mailroom users sign in with their email and password; a Google or Microsoft sign-in must never
create a user or log anybody in. So the adapter lets through only the *connect* process of a
user who is already signed in, and turns the provider's answer into a DeliveryChannel with the
tokens encrypted there (SOCIALACCOUNT_STORE_TOKENS is False: allauth's tables get none)."""

from __future__ import annotations

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

from .models import DeliveryChannel
from .providers.scopes import granted_access
from .services import ChannelConnectError, channel_connect_oauth
from .tasks import channel_push_start

KIND_FOR_PROVIDER = {
    "google": DeliveryChannel.Kind.GMAIL,
    "microsoft": DeliveryChannel.Kind.EXCHANGE_ONLINE,
}
LABEL_FOR_PROVIDER = {"google": "Gmail", "microsoft": "Outlook"}
# How each provider's consent page names the two permissions Mailroom needs.
SEND_PERMISSION = {"google": "Send email on your behalf", "microsoft": "Send mail as you"}
READ_PERMISSION = {
    "google": "View your email messages and settings",
    "microsoft": "Read your mail",
}


def _mailbox_address(provider: str, data: dict) -> str:
    if provider == "microsoft":
        return data.get("mail") or data.get("userPrincipalName") or ""
    return data.get("email") or ""


def _display_name(provider: str, data: dict) -> str:
    if provider == "microsoft":
        return data.get("displayName") or ""
    return data.get("name") or ""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False

    def get_connect_redirect_url(self, request, socialaccount) -> str:
        return reverse("email_settings")

    def _refuse(self, request, message: str, *, to: str = "email_settings"):
        messages.error(request, message)
        raise ImmediateHttpResponse(redirect(to))

    def pre_social_login(self, request, sociallogin) -> None:
        provider = sociallogin.account.provider
        label = LABEL_FOR_PROVIDER.get(provider, provider)
        if not request.user.is_authenticated:
            self._refuse(
                request,
                gettext(
                    "Sign in to Mailroom with your email and password first; %(label)s is "
                    "connected from Email settings, it is not a way to sign in."
                )
                % {"label": label},
                to="account_login",
            )
        if sociallogin.state.get("process") != AuthProcess.CONNECT:
            self._refuse(
                request,
                gettext(
                    "%(label)s can only be connected to your Mailroom account, not used to sign in."
                )
                % {"label": label},
            )
        kind = KIND_FOR_PROVIDER.get(provider)
        if kind is None:
            self._refuse(
                request,
                gettext("%(label)s is not a mailbox Mailroom can connect.") % {"label": label},
            )
        if sociallogin.is_existing and sociallogin.user != request.user:
            self._refuse(
                request,
                gettext(
                    "This %(label)s mailbox is already connected by another Mailroom user. Each "
                    "mailbox can be connected by one user only."
                )
                % {"label": label},
            )
        data = sociallogin.account.extra_data or {}
        token = sociallogin.token
        if token is None or not token.token:
            self._refuse(
                request,
                gettext("%(label)s did not hand over access to the mailbox.") % {"label": label},
            )
        scopes = self._granted_scopes(request, provider, token)
        access = granted_access(provider=provider, scopes=scopes)
        if not access.can_send:
            words = {"label": label, "send": SEND_PERMISSION[provider]}
            if access.can_read:
                text = gettext(
                    "%(label)s was not connected: Mailroom needs permission to send email from "
                    "the mailbox, and it was not allowed on the consent page. Connect %(label)s "
                    "again and leave “%(send)s” ticked."
                )
            else:
                text = gettext(
                    "%(label)s was not connected: Mailroom needs permission to send email from "
                    "the mailbox, and it was not allowed on the consent page. Connect %(label)s "
                    "again and leave “%(send)s” and “%(read)s” ticked."
                )
                words["read"] = READ_PERMISSION[provider]
            self._refuse(request, text % words)
        try:
            channel = channel_connect_oauth(
                user=request.user,
                kind=kind,
                provider_account_id=str(sociallogin.account.uid),
                mailbox_address=_mailbox_address(provider, data),
                display_name=_display_name(provider, data),
                access_token=token.token,
                refresh_token=token.token_secret,
                expires_at=token.expires_at,
                scopes=" ".join(scopes),
                can_read_inbox=access.can_read,
            )
        except ChannelConnectError as exc:
            self._refuse(
                request,
                gettext("%(label)s was not connected: %(reason)s")
                % {"label": label, "reason": exc.message},
            )
        if access.can_read:
            # Push notifications (Gmail's watch, Graph's subscription) start once the
            # connection is committed; Graph validates its URL, so not inside this request.
            channel_id = channel.pk
            transaction.on_commit(lambda: channel_push_start.delay(channel_id))
        if not access.can_read:
            messages.warning(
                request,
                gettext(
                    "%(label)s connected: %(address)s. Sending works; bounce tracking needs read "
                    "access — Reconnect and allow “%(read)s”."
                )
                % {
                    "label": label,
                    "address": channel.mailbox_address,
                    "read": READ_PERMISSION[provider],
                },
            )
            return
        messages.success(
            request,
            gettext("%(label)s connected: %(address)s. Your email now goes out through it.")
            % {"label": label, "address": channel.mailbox_address},
        )

    def _granted_scopes(self, request, provider_id: str, token) -> list[str]:
        """The scopes the provider granted (channels_app.oauth reads them from the token
        response); the ones asked for when the response named none."""
        granted = getattr(token, "granted_scopes", None)
        if granted is not None:
            return list(granted)
        return list(self.get_provider(request, provider_id).get_scope())

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        label = LABEL_FOR_PROVIDER.get(getattr(provider, "id", "")) or gettext("The mailbox")
        if error == "cancelled":
            message = gettext(
                "%(label)s was not connected: access was declined on the consent page."
            ) % {"label": label}
        elif exception:
            message = gettext(
                "%(label)s was not connected: the sign-in did not complete (%(error)s)."
            ) % {"label": label, "error": exception}
        else:
            message = gettext("%(label)s was not connected: the sign-in did not complete.") % {
                "label": label
            }
        messages.error(request, message)
        raise ImmediateHttpResponse(redirect("email_settings"))
