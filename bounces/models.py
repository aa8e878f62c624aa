from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class InboxMessage(TimeStampedModel):
    """A message seen in a polled inbox. Stored once per provider message id, so a message
    seen twice is processed once. One that could not be fetched (`raw` empty) or processed is
    kept with its error and retried with backoff until it works: an "unreadable message" for
    the admins, replayed by `manage.py bounces_reprocess` or the admin action."""

    class Kind(models.TextChoices):
        BOUNCE = "bounce", "Bounce"
        REPLY = "reply", "Reply"
        AUTO_REPLY = "auto_reply", "Auto-reply"
        OTHER = "other", "Other"

    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        on_delete=models.CASCADE,
        related_name="inbox_messages",
        verbose_name=_("channel"),
    )
    provider_message_id = models.CharField(max_length=255, verbose_name=_("provider message ID"))
    internet_message_id = models.CharField(
        max_length=998, blank=True, verbose_name=_("internet message ID")
    )
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.OTHER, verbose_name=_("kind")
    )
    subject = models.CharField(max_length=998, blank=True, verbose_name=_("subject"))
    from_address = models.CharField(max_length=320, blank=True, verbose_name=_("from address"))
    received_at = models.DateTimeField(null=True, blank=True, verbose_name=_("received at"))
    outbound_email = models.ForeignKey(
        "outreach.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbox_messages",
        verbose_name=_("outbound email"),
    )
    raw = models.BinaryField(
        null=True, blank=True, help_text="Kept for bounces and replies.", verbose_name=_("raw")
    )
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.CharField(max_length=1000, blank=True, verbose_name=_("last error"))
    # When the poller may try an unprocessed message again (growing backoff, never given up).
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))

    class Meta:
        verbose_name = _("inbox message")
        verbose_name_plural = _("inbox messages")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"], name="inbox_message_once_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["channel", "kind"], name="inbox_channel_kind"),
            # The poller retries messages that failed, when their backoff ends.
            models.Index(
                fields=["channel", "next_attempt_at"],
                condition=Q(processed_at__isnull=True),
                name="inbox_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.provider_message_id


class EspEvent(TimeStampedModel):
    """One event an ESP's webhook reported for an SMTP channel (bounced, rejected, complained,
    unsubscribed). Stored before it is acted on, once per ESP event id (a retried POST changes
    nothing); one that fails to process keeps its error and is retried with backoff, never
    dropped (`bounces_reprocess` replays them too)."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", "Bounced"
        REJECTED = "rejected", "Rejected by the ESP"
        DEFERRED = "deferred", "Delayed"
        COMPLAINED = "complained", "Spam complaint"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        on_delete=models.CASCADE,
        related_name="esp_events",
        verbose_name=_("channel"),
    )
    esp = models.CharField(max_length=20, verbose_name=_("ESP"))
    event_id = models.CharField(
        max_length=255,
        help_text="The ESP's event id, or a digest of the event when it has none.",
        verbose_name=_("event ID"),
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    recipient = models.CharField(max_length=320, blank=True, verbose_name=_("recipient"))
    occurred_at = models.DateTimeField(null=True, blank=True, verbose_name=_("occurred at"))
    payload = models.JSONField(help_text="The event as the ESP sent it.", verbose_name=_("payload"))
    outbound_email = models.ForeignKey(
        "outreach.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="esp_events",
        verbose_name=_("outbound email"),
    )
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.CharField(max_length=1000, blank=True, verbose_name=_("last error"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))

    class Meta:
        verbose_name = _("esp event")
        verbose_name_plural = _("esp events")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "event_id"], name="esp_event_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(processed_at__isnull=True),
                name="esp_event_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.esp} {self.kind} {self.recipient}".strip()


class Bounce(TimeStampedModel):
    """One failed recipient of one bounce notification (or of an SMTP rejection at send time)."""

    class Source(models.TextChoices):
        INBOX = "inbox", "Bounce message in the inbox"
        SMTP_REJECT = "smtp_reject", "Rejected by the SMTP server at send time"
        WEBHOOK = "webhook", "Reported by the ESP's webhook"

    class MatchedBy(models.TextChoices):
        MESSAGE_ID = "message_id", "Message-ID"
        MAILROOM_HEADER = "mailroom_header", "X-Mailroom-Email-Id"
        RECIPIENT = "recipient", "Recipient and time window"
        SEND_TIME = "send_time", "At send time"
        UNMATCHED = "unmatched", "Unmatched"

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="bounces",
        verbose_name=_("organization"),
    )
    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
        verbose_name=_("channel"),
    )
    inbox_message = models.ForeignKey(
        InboxMessage,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounces",
        verbose_name=_("inbox message"),
    )
    outbound_email = models.ForeignKey(
        "outreach.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
        verbose_name=_("outbound email"),
    )
    esp_event = models.ForeignKey(
        EspEvent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounces",
        verbose_name=_("ESP event"),
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.INBOX, verbose_name=_("source")
    )
    matched_by = models.CharField(
        max_length=20,
        choices=MatchedBy.choices,
        default=MatchedBy.UNMATCHED,
        verbose_name=_("matched by"),
    )
    recipient = models.EmailField(max_length=254, verbose_name=_("recipient"))
    status_code = models.CharField(
        max_length=16,
        blank=True,
        help_text="Enhanced status, e.g. 5.1.1",
        verbose_name=_("status code"),
    )
    diagnostic = models.TextField(blank=True, verbose_name=_("diagnostic"))
    # A word of the parser's closed vocabulary (bounces/parsing/vocabulary.py, which also has
    # the words pages show); not choices here, as models sit below the parser in the layers.
    reason = models.CharField(
        max_length=32,
        blank=True,
        help_text="Why it failed, e.g. user_unknown",
        verbose_name=_("reason"),
    )
    is_hard = models.BooleanField(verbose_name=_("is hard"))
    is_delayed = models.BooleanField(default=False, verbose_name=_("is delayed"))
    reporting_mta = models.CharField(max_length=255, blank=True, verbose_name=_("reporting MTA"))
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))

    class Meta:
        verbose_name = _("bounce")
        verbose_name_plural = _("bounces")
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox_message", "recipient"],
                condition=Q(inbox_message__isnull=False),
                name="bounce_once_per_notification_recipient",
            ),
            models.UniqueConstraint(
                fields=["outbound_email", "recipient"],
                condition=Q(source="smtp_reject"),
                name="smtp_reject_once_per_email",
            ),
            models.UniqueConstraint(
                fields=["esp_event"],
                condition=Q(esp_event__isnull=False),
                name="bounce_once_per_esp_event",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "occurred_at"], name="bounce_org_time"),
            models.Index(fields=["recipient", "occurred_at"], name="bounce_recipient_time"),
            models.Index(
                fields=["organization", "occurred_at"],
                condition=Q(outbound_email__isnull=True),
                name="bounce_unmatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.status_code}".strip()


class MailboxPause(TimeStampedModel):
    """Mailbox protection: a period during which a mailbox's campaign sends were held back
    because too many of its emails hard-bounced. The live flag is
    DeliveryChannel.campaigns_paused_at; these rows keep the history and who resumed it."""

    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        on_delete=models.CASCADE,
        related_name="pauses",
        verbose_name=_("channel"),
    )
    paused_at = models.DateTimeField(verbose_name=_("paused at"))
    reason = models.CharField(max_length=500, verbose_name=_("reason"))
    hard_bounces = models.PositiveIntegerField(verbose_name=_("hard bounces"))
    sent = models.PositiveIntegerField(verbose_name=_("sent"))
    resumed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resumed at"))
    resumed_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("resumed by"),
    )

    class Meta:
        verbose_name = _("mailbox pause")
        verbose_name_plural = _("mailbox pauses")
        ordering = ["-paused_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"],
                condition=Q(resumed_at__isnull=True),
                name="one_open_pause_per_channel",
            )
        ]
        indexes = [models.Index(fields=["channel", "-paused_at"], name="pause_channel_time")]

    def __str__(self) -> str:
        return f"{self.channel} paused {self.paused_at:%Y-%m-%d %H:%M}"
