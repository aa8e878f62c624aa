from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class FeedEvent(TimeStampedModel):
    """One entry of a user's live feed."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", "Bounced"
        REPLIED = "replied", "Replied"
        FAILED = "failed", "Failed"
        THROTTLED = "throttled", "Throttled"
        CHANNEL_NEEDS_RECONNECT = "channel_needs_reconnect", "Channel needs reconnect"
        MAILBOX_PAUSED = "mailbox_paused", "Mailbox paused"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="feed_events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=500)
    detail = models.TextField(blank=True)
    outbound_email = models.ForeignKey(
        "outreach.OutboundEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dedupe_key = models.CharField(
        max_length=255, blank=True, help_text="Events with the same key are recorded once."
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~Q(dedupe_key=""), name="feed_event_once"
            )
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="feed_user_newest"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="feed_unread"),
            models.Index(fields=["organization", "-id"], name="feed_org_newest"),
        ]

    def __str__(self) -> str:
        return self.title
