from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.models import TimeStampedModel


class DeliveryChannel(TimeStampedModel):
    """A way out for email: a rep's mailbox (Gmail, Exchange), an SMTP server, or the
    platform's legacy relay. See README, "Connecting a channel"."""

    class Kind(models.TextChoices):
        GMAIL = "gmail", "Gmail"
        EXCHANGE_ONLINE = "exchange_online", "Exchange Online (Outlook)"
        EXCHANGE_ONPREM = "exchange_onprem", "Exchange On-Prem"
        CUSTOM_SMTP = "custom_smtp", "Custom SMTP"
        MSC_LEGACY = "msc_legacy", "Legacy servers"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        DISCONNECTED = "disconnected", "Disconnected"

    class Esp(models.TextChoices):
        # The services whose bounce webhooks Mailroom reads (channels_app.providers.esp).
        SENDGRID = "sendgrid", "SendGrid"
        SPARKPOST = "sparkpost", "SparkPost"
        POSTMARK = "postmark", "Postmark"
        MAILGUN = "mailgun", "Mailgun"
        MAILJET = "mailjet", "Mailjet"
        BREVO = "brevo", "Brevo"

    class Security(models.TextChoices):
        STARTTLS = "starttls", "STARTTLS"
        SSL = "ssl", "SSL/TLS"
        NONE = "none", "None"

    MAILBOX_KINDS = (Kind.GMAIL, Kind.EXCHANGE_ONLINE, Kind.EXCHANGE_ONPREM)
    POLLED_KINDS = (Kind.GMAIL, Kind.EXCHANGE_ONLINE)

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="channels",
        verbose_name=_("organization"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="channels",
        help_text="Empty for an organization-wide channel (team SMTP, legacy servers).",
        verbose_name=_("owner"),
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.CONNECTED, verbose_name=_("status")
    )
    last_error = models.CharField(max_length=1000, blank=True, verbose_name=_("last error"))
    mailbox_address = models.EmailField(
        max_length=254, blank=True, verbose_name=_("mailbox address")
    )
    display_name = models.CharField(max_length=200, blank=True, verbose_name=_("display name"))
    is_team_default = models.BooleanField(
        default=False,
        help_text="The team SMTP: every member's default unless they chose another.",
        verbose_name=_("is team default"),
    )

    # OAuth mailboxes (Gmail, Exchange Online). Secrets encrypted at rest.
    provider_account_id = models.CharField(
        max_length=255, blank=True, verbose_name=_("provider account ID")
    )
    access_token = EncryptedTextField(blank=True, default="", verbose_name=_("access token"))
    refresh_token = EncryptedTextField(blank=True, default="", verbose_name=_("refresh token"))
    token_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("token expires at")
    )
    scopes = models.CharField(
        max_length=1000,
        blank=True,
        help_text="The scopes the provider says it granted.",
        verbose_name=_("scopes"),
    )
    can_read_inbox = models.BooleanField(
        default=True,
        help_text="False when the owner did not allow read access at consent: sending works, "
        "bounce tracking does not (the mailbox is not polled).",
        verbose_name=_("can read inbox"),
    )
    connected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last time the owner connected or reconnected it.",
        verbose_name=_("connected at"),
    )

    # SMTP (custom, team) and Exchange On-Prem.
    host = models.CharField(max_length=255, blank=True, verbose_name=_("host"))
    port = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("port"))
    security = models.CharField(
        max_length=16, choices=Security.choices, blank=True, verbose_name=_("security")
    )
    username = models.CharField(max_length=255, blank=True, verbose_name=_("username"))
    password = EncryptedTextField(blank=True, default="", verbose_name=_("password"))
    from_domain = models.CharField(max_length=255, blank=True, verbose_name=_("from domain"))
    ews_url = models.URLField(max_length=500, blank=True, verbose_name=_("EWS URL"))

    # Sending limits: provider defaults apply when empty; On-Prem takes the limits IT set.
    is_trial_account = models.BooleanField(
        default=False,
        help_text="Gmail trial or consumer account: 500 messages a day.",
        verbose_name=_("is trial account"),
    )
    daily_limit = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("daily limit"))
    per_minute_limit = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("per minute limit")
    )
    sending_paused_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the provider says its quota is exhausted.",
        verbose_name=_("sending paused until"),
    )
    sending_paused_reason = models.CharField(
        max_length=500, blank=True, verbose_name=_("sending paused reason")
    )
    campaigns_paused_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Mailbox protection: campaign sends held back.",
        verbose_name=_("campaigns paused at"),
    )
    campaigns_paused_reason = models.CharField(
        max_length=500, blank=True, verbose_name=_("campaigns paused reason")
    )

    # Bounce polling cursors and health.
    gmail_history_id = models.PositiveBigIntegerField(
        null=True, blank=True, verbose_name=_("Gmail history ID")
    )
    graph_delta_link = models.TextField(blank=True, verbose_name=_("graph delta link"))
    # Exchange On-Prem: the inbox's SyncFolderItems state (opaque, Exchange's own).
    ews_sync_state = models.TextField(blank=True, verbose_name=_("EWS sync state"))
    last_polled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last polled at"))
    last_poll_result = models.CharField(
        max_length=500, blank=True, verbose_name=_("last poll result")
    )
    poll_lease_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("poll lease until")
    )
    poll_backoff_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("poll backoff until")
    )
    poll_failures = models.PositiveSmallIntegerField(default=0, verbose_name=_("poll failures"))

    # Push (bounces within seconds): Gmail's users.watch, Graph's change-notification
    # subscription. Polling stays the safety net, rarer while push is live (bounces.push).
    push_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("push expires at"))
    push_subscription_id = models.CharField(
        max_length=255, blank=True, verbose_name=_("push subscription ID")
    )
    push_client_state = EncryptedTextField(
        blank=True, default="", verbose_name=_("push client state")
    )
    push_last_event_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("push last event at")
    )
    push_error = models.CharField(max_length=500, blank=True, verbose_name=_("push error"))

    # SMTP through an ESP (SendGrid, SparkPost, …): its bounce webhook (bounces.webhooks).
    esp = models.CharField(
        max_length=20,
        choices=Esp.choices,
        blank=True,
        help_text="The email service behind this SMTP server, whose webhook reports bounces.",
        verbose_name=_("ESP"),
    )
    # The webhook URL's unguessable part; with esp_webhook_secret (the basic-auth password
    # Mailroom made, or the signing key the ESP gave) it authenticates the ESP's POSTs.
    esp_webhook_key = models.CharField(max_length=64, blank=True, verbose_name=_("ESP webhook key"))
    esp_webhook_secret = EncryptedTextField(
        blank=True, default="", verbose_name=_("ESP webhook secret")
    )
    esp_last_event_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("ESP last event at")
    )

    # SMTP with a mailbox: its IMAP inbox, polled read-only for bounces and replies
    # (channels_app.providers.imap). Empty host: no IMAP. The cursor is "UIDVALIDITY:UID",
    # the last UID seen in that UIDVALIDITY of the folder.
    imap_host = models.CharField(max_length=255, blank=True, verbose_name=_("IMAP host"))
    imap_port = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("IMAP port"))
    imap_security = models.CharField(
        max_length=16, choices=Security.choices, blank=True, verbose_name=_("IMAP security")
    )
    imap_username = models.CharField(max_length=255, blank=True, verbose_name=_("IMAP username"))
    imap_password = EncryptedTextField(blank=True, default="", verbose_name=_("IMAP password"))
    imap_folder = models.CharField(
        max_length=255, blank=True, default="INBOX", verbose_name=_("IMAP folder")
    )
    imap_cursor = models.CharField(max_length=64, blank=True, verbose_name=_("IMAP cursor"))

    class Meta:
        verbose_name = _("delivery channel")
        verbose_name_plural = _("delivery channels")
        ordering = ["organization", "kind", "mailbox_address"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "mailbox_address"],
                condition=Q(kind__in=["gmail", "exchange_online"]) & ~Q(status="disconnected"),
                name="mailbox_connected_once",
            ),
            models.UniqueConstraint(
                fields=["owner", "kind"],
                condition=Q(owner__isnull=False) & ~Q(status="disconnected"),
                name="one_live_channel_per_owner_kind",
            ),
            models.UniqueConstraint(
                fields=["organization", "kind"],
                condition=Q(owner__isnull=True, kind="msc_legacy") & ~Q(status="disconnected"),
                name="one_legacy_channel_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(is_team_default=True) & ~Q(status="disconnected"),
                name="one_team_default_channel",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["gmail", "exchange_online", "exchange_onprem"])
                | Q(owner__isnull=False),
                name="mailbox_channel_has_owner",
            ),
            models.CheckConstraint(
                condition=~Q(is_team_default=True) | Q(kind="custom_smtp", owner__isnull=True),
                name="team_default_is_org_smtp",
            ),
            models.UniqueConstraint(
                fields=["esp_webhook_key"],
                condition=~Q(esp_webhook_key=""),
                name="esp_webhook_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="channel_owner_status"),
            models.Index(fields=["kind", "status"], name="channel_kind_status"),
            # Organization-wide channels (team SMTP, legacy servers): looked up on every page
            # and every send without scanning the organization's mailboxes.
            models.Index(
                fields=["organization"], condition=Q(owner__isnull=True), name="channel_org_wide"
            ),
        ]

    def __str__(self) -> str:
        label = self.mailbox_address or self.host or self.get_kind_display()
        return f"{self.get_kind_display()}: {label}"

    @classmethod
    def polled_q(cls) -> Q:
        """Channels whose inbox the poller reads: Gmail / Exchange Online with read access,
        SMTP channels with an IMAP inbox, and Exchange On-Prem mailboxes through EWS."""
        return (
            Q(kind__in=cls.POLLED_KINDS, can_read_inbox=True)
            | (Q(kind=cls.Kind.CUSTOM_SMTP) & ~Q(imap_host=""))
            | (Q(kind=cls.Kind.EXCHANGE_ONPREM) & ~Q(ews_url=""))
        )

    @property
    def is_polled(self) -> bool:
        return (
            (self.kind in self.POLLED_KINDS and self.can_read_inbox)
            or self.has_imap
            or (self.kind == self.Kind.EXCHANGE_ONPREM and bool(self.ews_url))
        )

    @property
    def supports_bounce_tracking(self) -> bool:
        return self.is_polled or self.has_esp_webhook

    @property
    def has_imap(self) -> bool:
        return self.kind == self.Kind.CUSTOM_SMTP and bool(self.imap_host)

    @property
    def lacks_read_access(self) -> bool:
        """A Gmail or Outlook mailbox whose owner unticked read access at consent."""
        return self.kind in self.POLLED_KINDS and not self.can_read_inbox

    @property
    def push_active(self) -> bool:
        """Push notifications are live for this mailbox (polling is only the safety net)."""
        return bool(
            self.push_expires_at and self.push_expires_at > timezone.now() and not self.push_error
        )

    @property
    def has_esp_webhook(self) -> bool:
        return self.kind == self.Kind.CUSTOM_SMTP and bool(self.esp and self.esp_webhook_key)

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.CONNECTED

    @property
    def state(self) -> "ChannelState":
        """What the channel's card says it is, honestly: green "Connected" only while nothing
        stops it sending. A connected channel whose server refused its mail (a refused login,
        a full mailbox) keeps `last_error` until it sends again or gets new credentials."""
        if self.status == self.Status.DISCONNECTED:
            return ChannelState("disconnected", gettext("Disconnected"), "")
        if self.status == self.Status.NEEDS_RECONNECT:
            return ChannelState("needs_reconnect", gettext("Needs reconnect"), "bad")
        if self.last_error:
            return ChannelState("refused", gettext("Not sending: the server refused"), "bad")
        if self.sending_paused_until and self.sending_paused_until > timezone.now():
            return ChannelState("paused", gettext("Paused by the provider"), "warn")
        if self.campaigns_paused_at:
            return ChannelState(
                "campaigns_held", gettext("Connected · campaign sends held back"), "warn"
            )
        return ChannelState("connected", gettext("Connected"), "ok")

    @property
    def short_label(self) -> str:
        """The channel as the switching question names it ("Sending moves from Gmail to …")."""
        if self.kind == self.Kind.GMAIL:
            return f"Gmail ({self.mailbox_address})" if self.mailbox_address else "Gmail"
        if self.kind == self.Kind.EXCHANGE_ONLINE:
            return f"Outlook ({self.mailbox_address})" if self.mailbox_address else "Outlook"
        if self.kind == self.Kind.CUSTOM_SMTP:
            name = gettext("the team SMTP") if self.is_team_default else gettext("your SMTP server")
            return f"{name} ({self.host})" if self.host else name
        if self.kind == self.Kind.EXCHANGE_ONPREM:
            return f"Exchange On-Prem ({self.mailbox_address})"
        return self.get_kind_display()


class ChannelState(NamedTuple):
    key: str
    label: str
    tone: str  # the pill's class: ok, warn, bad, or plain


class ChannelChoice(TimeStampedModel):
    """The channel a user chose to send through. Without one, the team SMTP is the default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="channel_choice",
        verbose_name=_("user"),
    )
    channel = models.ForeignKey(
        DeliveryChannel, on_delete=models.CASCADE, related_name="+", verbose_name=_("channel")
    )

    class Meta:
        verbose_name = _("channel choice")
        verbose_name_plural = _("channel choices")

    def __str__(self) -> str:
        return f"{self.user} → {self.channel}"


class SendingDomainCheck(TimeStampedModel):
    """The last SPF / DKIM / DMARC / MX check of a From domain, as one provider sends it
    (channels_app.domain_check). Kept so the settings page never waits on DNS."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="domain_checks",
        verbose_name=_("organization"),
    )
    domain = models.CharField(max_length=255, verbose_name=_("domain"))
    provider = models.CharField(max_length=40, blank=True, verbose_name=_("provider"))
    state = models.CharField(max_length=10, verbose_name=_("state"))
    lines = models.JSONField(default=list, verbose_name=_("lines"))
    checked_at = models.DateTimeField(verbose_name=_("checked at"))

    class Meta:
        verbose_name = _("sending domain check")
        verbose_name_plural = _("sending domain checks")
        ordering = ["domain", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "domain", "provider"], name="domain_check_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.provider or 'SMTP'}): {self.state}"
