"""Writes about delivery channels: connect, reconnect, disconnect, choose (the needs-reconnect
state lives with the tokens, in channels_app.tokens). Outside calls (an SMTP or EWS login
check) happen before the transaction that saves, so a slow server never holds a database
lock."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from functools import partial

from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .exceptions import MailboxNotOnline, ProviderError
from .models import ChannelChoice, DeliveryChannel
from .providers import ews_auth, google_oauth, graph, imap, smtp_auth
from .providers.esp import ESPS
from .push import channel_push_stop
from .selectors import SERVER_CHANGED_TYPE_AGAIN, channel_may_send_for, ews_server, smtp_server

logger = logging.getLogger(__name__)
Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status
CONSUMER_GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


class ChannelConnectError(Exception):
    """A connection Mailroom refuses, with a sentence for the rep."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _set_choice(*, user: User, channel: DeliveryChannel) -> None:
    ChannelChoice.objects.update_or_create(user=user, defaults={"channel": channel})


def _retire(channel: DeliveryChannel) -> None:
    """Disconnected for good: secrets wiped, nobody's choice points at it any more."""
    channel.status = Status.DISCONNECTED
    channel.access_token = ""
    channel.refresh_token = ""
    channel.password = ""
    channel.imap_password = ""
    channel.token_expires_at = None
    channel.push_expires_at = None
    channel.push_client_state = ""
    channel.save(
        update_fields=[
            "status",
            "access_token",
            "refresh_token",
            "password",
            "imap_password",
            "token_expires_at",
            "push_expires_at",
            "push_client_state",
            "updated_at",
        ]
    )
    ChannelChoice.objects.filter(channel=channel).delete()


def channel_connect_oauth(
    *,
    user: User,
    kind: str,
    provider_account_id: str,
    mailbox_address: str,
    display_name: str = "",
    access_token: str,
    refresh_token: str,
    expires_at: datetime | None,
    scopes: str,
    can_read_inbox: bool = True,
) -> DeliveryChannel:
    """Store a Gmail or Exchange Online mailbox the rep just granted access to (or renew the
    grant of the one they had), and make it the channel they send through. `scopes` are the
    ones the provider granted; without read access (`can_read_inbox` False) the mailbox sends
    but is not polled for bounces.

    A mailbox already connected by another user is refused; connecting a different mailbox of
    the same kind replaces the rep's previous one."""
    if kind not in DeliveryChannel.POLLED_KINDS:
        raise ValueError(kind)
    if user.organization_id is None:
        raise ChannelConnectError("Your account belongs to no organization.")
    mailbox_address = mailbox_address.strip().lower()
    label = DeliveryChannel.Kind(kind).label
    if not mailbox_address:
        raise ChannelConnectError(f"{label} did not tell Mailroom the mailbox's address.")
    if kind == Kind.EXCHANGE_ONLINE and can_read_inbox:
        _graph_mailbox_check(access_token=access_token, mailbox_address=mailbox_address)
    with transaction.atomic():
        taken = (
            DeliveryChannel.objects.filter(kind=kind, mailbox_address=mailbox_address)
            .exclude(status=Status.DISCONNECTED)
            .exclude(owner_id=user.pk)
            .exists()
        )
        if taken:
            raise ChannelConnectError(
                f"{mailbox_address} is already connected by another Mailroom user. "
                "Each mailbox can be connected by one user only."
            )
        channel = (
            DeliveryChannel.objects.select_for_update()
            .filter(owner_id=user.pk, kind=kind)
            .exclude(status=Status.DISCONNECTED)
            .first()
        )
        if channel is not None and channel.mailbox_address != mailbox_address:
            _retire(channel)
            channel = None
        if channel is None:
            channel = DeliveryChannel(organization_id=user.organization_id, owner=user, kind=kind)
        refresh_token = refresh_token or channel.refresh_token
        if not refresh_token:
            raise ChannelConnectError(
                f"{label} did not grant offline access, so Mailroom could not keep sending. "
                "Please connect again and accept every permission."
            )
        channel.status = Status.CONNECTED
        channel.last_error = ""
        channel.mailbox_address = mailbox_address
        channel.display_name = display_name[:200]
        channel.provider_account_id = provider_account_id[:255]
        channel.access_token = access_token
        channel.refresh_token = refresh_token
        channel.token_expires_at = expires_at
        channel.scopes = scopes[:1000]
        channel.can_read_inbox = can_read_inbox
        channel.connected_at = timezone.now()
        if kind == Kind.GMAIL:
            channel.is_trial_account = mailbox_address.rpartition("@")[2] in (
                CONSUMER_GMAIL_DOMAINS
            )
        channel.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                channel.save()
        except IntegrityError as exc:
            raise ChannelConnectError(
                f"{mailbox_address} is already connected by another Mailroom user."
            ) from exc
        _set_choice(user=user, channel=channel)
    return channel


def _graph_mailbox_check(*, access_token: str, mailbox_address: str) -> None:
    """An account whose mailbox is on-prem or hybrid signs in to Microsoft fine and then fails
    every mail call (MailboxNotEnabledForRESTAPI): refuse it at connect with what to use
    instead. Any other failure of the check does not block the connection: polling and
    sending report it in their own words."""
    try:
        graph.mailbox_check(access_token=access_token)
    except MailboxNotOnline as exc:
        raise ChannelConnectError(exc.reason) from exc
    except ProviderError as exc:
        logger.info("Graph mailbox check for %s failed at connect: %s", mailbox_address, exc)


def _revoke_google_grant(*, channel_id: int, token: str) -> None:
    """Best effort: Google down, or a grant already revoked (400 invalid_token), does not undo
    or block a disconnect; it is logged, without the token."""
    try:
        google_oauth.revoke(token=token)
    except ProviderError as exc:
        logger.warning(
            "Disconnected Gmail channel %s, but Google did not revoke its grant: %s",
            channel_id,
            exc.reason,
        )
    else:
        logger.info("Disconnected Gmail channel %s: Google revoked its grant", channel_id)


def channel_disconnect(*, user: User, channel: DeliveryChannel) -> None:
    """The owner (for the team SMTP an admin; or a superuser) stops using a channel. Its
    secrets are wiped; users who had chosen it fall back to the team SMTP or their other
    channel.

    Gmail: once the disconnect is committed, Mailroom's grant is revoked at Google (the
    refresh token, which revokes its access tokens too), so the mailbox no longer lists
    Mailroom as a connected app. The call is made right away, in this request, not in a task:
    a task would carry the token through the broker after the database forgot it. Best
    effort: Google unreachable or refusing does not stop the disconnect (see
    _revoke_google_grant). Exchange Online: Microsoft offers no per-token revocation for a
    delegated grant to a confidential client (revokeSignInSessions signs the user out of
    everything, and removing consent needs admin rights), so the grant is left for the user
    or their admin to remove; the refresh token Mailroom held is wiped."""
    is_platform_admin = user.is_superuser  # the Django admin's "Disconnect" action
    if not is_platform_admin:
        if channel.owner_id is not None and channel.owner_id != user.pk:
            raise PermissionDenied
        if channel.owner_id is None and not (
            user.is_org_admin and user.organization_id == channel.organization_id
        ):
            raise PermissionDenied
    if channel.status != Status.DISCONNECTED:
        channel_push_stop(channel=channel)  # before the token is wiped; best effort
    with transaction.atomic():
        locked = DeliveryChannel.objects.select_for_update().get(pk=channel.pk)
        if locked.status == Status.DISCONNECTED:
            return
        google_token = (
            (locked.refresh_token or locked.access_token) if locked.kind == Kind.GMAIL else ""
        )
        _retire(locked)
        if locked.provider_account_id and locked.owner_id:
            provider = "google" if locked.kind == Kind.GMAIL else "microsoft"
            SocialAccount.objects.filter(
                user_id=locked.owner_id, provider=provider, uid=locked.provider_account_id
            ).delete()
        if google_token:
            transaction.on_commit(
                partial(_revoke_google_grant, channel_id=locked.pk, token=google_token)
            )
    channel.status = Status.DISCONNECTED


def channel_choose(*, user: User, channel: DeliveryChannel) -> None:
    """The user picks the channel their mail goes out through (one they may use, connected)."""
    if not channel_may_send_for(channel=channel, user=user) or not channel.is_usable:
        raise PermissionDenied
    _set_choice(user=user, channel=channel)


def channel_choose_legacy(*, user: User) -> DeliveryChannel:
    """A user of a legacy organization sends through the operator's legacy servers. The
    relay itself is configured in settings (MAILROOM_LEGACY_SMTP_*); the organization gets one
    channel row so choices and sent mail can point at it."""
    if user.organization is None or not user.organization.is_legacy:
        raise PermissionDenied
    with transaction.atomic():
        channel = (
            DeliveryChannel.objects.filter(
                organization_id=user.organization_id, owner__isnull=True, kind=Kind.MSC_LEGACY
            )
            .exclude(status=Status.DISCONNECTED)
            .first()
        )
        if channel is None:
            channel = DeliveryChannel(
                organization_id=user.organization_id,
                kind=Kind.MSC_LEGACY,
                display_name="Legacy servers",
                connected_at=timezone.now(),
            )
            channel.full_clean(validate_constraints=False)
            try:
                with transaction.atomic():
                    channel.save()
            except IntegrityError:
                channel = DeliveryChannel.objects.get(
                    organization_id=user.organization_id,
                    owner__isnull=True,
                    kind=Kind.MSC_LEGACY,
                    status__in=[Status.CONNECTED, Status.NEEDS_RECONNECT],
                )
        _set_choice(user=user, channel=channel)
    return channel


def _require_same_org_admin(user: User) -> None:
    if not user.is_org_admin or user.organization_id is None:
        raise PermissionDenied(_("Only an admin sets the team SMTP."))


def channel_smtp_save(
    *,
    user: User,
    team: bool,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    from_domain: str = "",
) -> DeliveryChannel:
    """ "Authenticate and save": log in to the SMTP server first; save only when the server
    accepted the credentials (raises smtp_auth.SmtpLoginFailed with the server's own words).

    `team` saves the organization's team SMTP (admins only), every member's default; otherwise
    the user's own SMTP, which becomes their channel. An empty password keeps the stored one."""
    if team:
        _require_same_org_admin(user)
        existing = (
            DeliveryChannel.objects.filter(
                organization_id=user.organization_id, owner__isnull=True, is_team_default=True
            )
            .exclude(status=Status.DISCONNECTED)
            .first()
        )
    else:
        if user.organization_id is None:
            raise PermissionDenied
        existing = (
            DeliveryChannel.objects.filter(owner_id=user.pk, kind=Kind.CUSTOM_SMTP)
            .exclude(status=Status.DISCONNECTED)
            .first()
        )
    if not password and existing is not None:
        # The saved password goes only to the server it was saved for.
        if smtp_server(host, port, security) != smtp_server(
            existing.host, existing.port, existing.security
        ):
            raise smtp_auth.SmtpLoginFailed(SERVER_CHANGED_TYPE_AGAIN)
        password = existing.password
    smtp_auth.authenticate(
        host=host, port=port, security=security, username=username, password=password
    )
    with transaction.atomic():
        channel = existing or DeliveryChannel(
            organization_id=user.organization_id,
            owner=None if team else user,
            kind=Kind.CUSTOM_SMTP,
            is_team_default=team,
        )
        channel.host = host.strip()
        channel.port = port
        channel.security = security
        channel.username = username
        channel.password = password
        channel.from_domain = from_domain.strip().lower()
        channel.mailbox_address = ""
        channel.display_name = "Team SMTP" if team else "My SMTP"
        channel.status = Status.CONNECTED
        channel.last_error = ""
        channel.connected_at = timezone.now()
        channel.full_clean(validate_constraints=False)
        channel.save()
        if not team:
            _set_choice(user=user, channel=channel)
    return channel


def channel_exchange_onprem_save(
    *,
    user: User,
    email_address: str,
    username: str,
    password: str,
    ews_url: str = "",
    daily_limit: int | None = None,
    per_minute_limit: int | None = None,
) -> DeliveryChannel:
    """Log in to Exchange (EWS at `ews_url`, or found by Autodiscover) and save the rep's
    Exchange On-Prem mailbox when the login works. Raises ews_auth.EwsLoginFailed otherwise."""
    if user.organization_id is None:
        raise PermissionDenied
    email_address = email_address.strip().lower()
    existing = (
        DeliveryChannel.objects.filter(owner_id=user.pk, kind=Kind.EXCHANGE_ONPREM)
        .exclude(status=Status.DISCONNECTED)
        .first()
    )
    if not password and existing is not None:
        target = ews_server(ews_url)
        if target is None or target != ews_server(existing.ews_url):
            raise ews_auth.EwsLoginFailed(SERVER_CHANGED_TYPE_AGAIN)
        password = existing.password
    found_url = ews_auth.authenticate(
        email_address=email_address, username=username, password=password, ews_url=ews_url
    )
    with transaction.atomic():
        channel = existing or DeliveryChannel(
            organization_id=user.organization_id, owner=user, kind=Kind.EXCHANGE_ONPREM
        )
        channel.mailbox_address = email_address
        channel.username = username
        channel.password = password
        channel.ews_url = found_url
        channel.daily_limit = daily_limit
        channel.per_minute_limit = per_minute_limit
        channel.status = Status.CONNECTED
        channel.last_error = ""
        channel.connected_at = timezone.now()
        try:
            channel.full_clean(validate_constraints=False)
        except ValidationError as exc:
            raise ews_auth.EwsLoginFailed("; ".join(exc.messages)) from exc
        channel.save()
        _set_choice(user=user, channel=channel)
    return channel


def _require_smtp_channel_manager(*, user: User, channel: DeliveryChannel) -> None:
    """A team SMTP is its organization's admins' to change; a rep's own SMTP is theirs."""
    if channel.owner_id is None:
        _require_same_org_admin(user)
        if channel.organization_id != user.organization_id:
            raise PermissionDenied
    elif channel.owner_id != user.pk:
        raise PermissionDenied


def channel_imap_set(
    *,
    user: User,
    channel: DeliveryChannel,
    imap_host: str,
    imap_port: int | None,
    imap_security: str,
    imap_username: str,
    imap_password: str,
    imap_folder: str = "INBOX",
) -> DeliveryChannel:
    """ "Sign in and save" the IMAP inbox of an SMTP channel: log in and EXAMINE the folder
    first, save only when that works (raises imap.ImapFailed saying why). An empty password
    keeps the saved one, only for the same server, port and security; an empty username is
    the SMTP one. A new server, login or folder starts the inbox's cursor afresh."""
    if channel.kind != Kind.CUSTOM_SMTP or channel.status == Status.DISCONNECTED:
        raise ValidationError(_("Only a connected SMTP channel can have an IMAP inbox."))
    _require_smtp_channel_manager(user=user, channel=channel)
    host = imap_host.strip().lower()
    port = imap_port or imap.DEFAULT_PORTS.get(imap_security, 993)
    username = imap_username.strip() or channel.username
    if not imap_password:
        if not (channel.has_imap and channel.imap_password) or smtp_server(
            host, port, imap_security
        ) != smtp_server(channel.imap_host, channel.imap_port, channel.imap_security):
            raise imap.ImapFailed(SERVER_CHANGED_TYPE_AGAIN)
        imap_password = channel.imap_password
    folder = imap_folder.strip() or "INBOX"
    imap.authenticate(
        imap.ImapServer(
            host=host,
            port=port,
            security=imap_security,
            username=username,
            password=imap_password,
            folder=folder,
        )
    )
    same_inbox = (channel.imap_host, channel.imap_port, channel.imap_username) == (
        host,
        port,
        username,
    ) and channel.imap_folder == folder
    with transaction.atomic():
        channel.imap_host = host
        channel.imap_port = port
        channel.imap_security = imap_security
        channel.imap_username = username
        channel.imap_password = imap_password
        channel.imap_folder = folder
        fields = [
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_username",
            "imap_password",
            "imap_folder",
            "updated_at",
        ]
        if not same_inbox:
            channel.imap_cursor = ""
            channel.last_poll_result = ""
            channel.poll_failures = 0
            channel.poll_backoff_until = None
            fields += ["imap_cursor", "last_poll_result", "poll_failures", "poll_backoff_until"]
        channel.save(update_fields=fields)
    return channel


def channel_imap_off(*, user: User, channel: DeliveryChannel) -> DeliveryChannel:
    """Stop reading the SMTP channel's IMAP inbox; its password is wiped."""
    if channel.kind != Kind.CUSTOM_SMTP:
        raise ValidationError(_("Only an SMTP channel has an IMAP inbox."))
    _require_smtp_channel_manager(user=user, channel=channel)
    channel.imap_host = channel.imap_username = channel.imap_password = channel.imap_cursor = ""
    channel.imap_port = None
    channel.imap_security = ""
    channel.imap_folder = "INBOX"
    channel.save(
        update_fields=[
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_username",
            "imap_password",
            "imap_folder",
            "imap_cursor",
            "updated_at",
        ]
    )
    return channel


def channel_esp_webhook_set(
    *, user: User, channel: DeliveryChannel, esp: str, signing_key: str = ""
) -> DeliveryChannel:
    """Turn on (or change) the ESP bounce webhook of an SMTP channel: a new unguessable URL,
    and for basic-auth ESPs a new password Mailroom makes (the old URL stops working). For an
    ESP that signs its POSTs (Mailgun), `signing_key` is the key the ESP shows. An empty `esp`
    turns the webhook off."""
    if channel.kind != Kind.CUSTOM_SMTP or channel.status == Status.DISCONNECTED:
        raise ValidationError(_("Only a connected SMTP channel can report bounces by webhook."))
    _require_smtp_channel_manager(user=user, channel=channel)
    if esp and esp not in DeliveryChannel.Esp.values:
        raise ValidationError(_("Unknown email service: %(esp)s.") % {"esp": esp})
    if not esp:
        channel.esp, channel.esp_webhook_key, channel.esp_webhook_secret = "", "", ""
    else:
        if ESPS[esp].auth == "signing_key":
            signing_key = "".join(signing_key.split())
            if not signing_key or not signing_key.isascii() or len(signing_key) > 200:
                raise ValidationError(
                    _("Paste the webhook signing key %(service)s shows you.")
                    % {"service": DeliveryChannel.Esp(esp).label}
                )
            secret = signing_key
        else:
            secret = secrets.token_urlsafe(24)
        channel.esp = esp
        channel.esp_webhook_key = secrets.token_urlsafe(24)
        channel.esp_webhook_secret = secret
    channel.save(update_fields=["esp", "esp_webhook_key", "esp_webhook_secret", "updated_at"])
    return channel
