from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class FeedEvent(TimeStampedModel):
    """One entry of a user's live feed."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", _("Bounced")
        REPLIED = "replied", _("Replied")
        FAILED = "failed", _("Failed")
        THROTTLED = "throttled", _("Throttled")
        CHANNEL_NEEDS_RECONNECT = "channel_needs_reconnect", _("Channel needs reconnect")
        MAILBOX_PAUSED = "mailbox_paused", _("Mailbox paused")
        REMOVAL_REQUESTED = "removal_requested", _("Asks to be removed")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        COMPLAINED = "complained", _("Spam complaint")
        DOMAIN_CHECK = "domain_check", _("Sending domain changed")

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="feed_events",
        verbose_name=_("organization"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="feed_events",
        verbose_name=_("user"),
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    title = models.CharField(max_length=500, verbose_name=_("title"))
    detail = models.TextField(blank=True, verbose_name=_("detail"))
    message = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the title and detail were written from (analytics.feed.FEED_TEXTS), "
        "so the feed shows them in each reader's language.",
        verbose_name=_("message"),
    )
    outbound_email = models.ForeignKey(
        "outreach.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("outbound email"),
    )
    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("channel"),
    )
    dedupe_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="Events with the same key are recorded once.",
        verbose_name=_("dedupe key"),
    )
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        verbose_name = _("feed event")
        verbose_name_plural = _("feed events")
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
            # The feed pages: newest first by when it happened (history may be back-dated).
            models.Index(fields=["user", "-created_at", "-id"], name="feed_user_recent"),
            models.Index(fields=["organization", "-created_at", "-id"], name="feed_org_recent"),
        ]

    def __str__(self) -> str:
        return self.title


class AnalyticsState(models.Model):
    """One row per organization: the lock that serialises rollup refreshes, and when the
    rollups were last brought up to date."""

    organization = models.OneToOneField(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="analytics_state",
        verbose_name=_("organization"),
    )
    refreshed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("refreshed at"))
    rebuilt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rebuilt at"))

    class Meta:
        verbose_name = _("analytics state")
        verbose_name_plural = _("analytics states")

    def __str__(self) -> str:
        return f"analytics of {self.organization_id}"


class DirtyBucket(models.Model):
    """A change the rollups have not absorbed yet. Rows are written by database triggers on
    outreach_outboundemail, bounces_bounce, outreach_enrollment and accounts_organization
    (migration 0002), so every write path counts: save() with update_fields, QuerySet.update(),
    bulk_create, raw SQL. The refresh recounts each named bucket and deletes the rows it read."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Emails of one sender on one day"
        ENROLLMENT = "enrollment", "Enrollments of one sender in one campaign"
        ORGANIZATION = "organization", "Everything (the time zone changed)"

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    organization_id = models.BigIntegerField(verbose_name=_("organization ID"))
    sender_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("sender ID"))
    campaign_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("campaign ID"))
    at = models.DateTimeField(
        null=True, blank=True, help_text="The email's sent_at.", verbose_name=_("at")
    )

    class Meta:
        verbose_name = _("dirty bucket")
        verbose_name_plural = _("dirty buckets")
        indexes = [models.Index(fields=["organization_id", "id"], name="dirty_org")]

    def __str__(self) -> str:
        return f"{self.kind} {self.organization_id}/{self.sender_id}"


class EmailRollup(models.Model):
    """What the day and month rollups share: who sent, with which template / campaign step,
    and the four counts. Rollup foreign keys have no database constraint: the rows are
    derived, a rebuild writes hundreds of thousands of them, and deferred constraint checks
    would double its time; deleting a user, template or campaign still removes its rows
    (Django's cascade)."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("organization"),
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("sender"),
    )
    template = models.ForeignKey(
        "outreach.EmailTemplate",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("template"),
    )
    campaign = models.ForeignKey(
        "outreach.Campaign",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("campaign"),
    )
    campaign_step = models.ForeignKey(
        "outreach.CampaignStep",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("campaign step"),
    )
    sent = models.PositiveIntegerField(default=0, verbose_name=_("sent"))
    bounced_hard = models.PositiveIntegerField(default=0, verbose_name=_("bounced hard"))
    bounced_soft = models.PositiveIntegerField(default=0, verbose_name=_("bounced soft"))
    replied = models.PositiveIntegerField(default=0, verbose_name=_("replied"))

    class Meta:
        abstract = True


class EmailDayStat(EmailRollup):
    """Rollup: what one sender sent on one day (in the organization's time zone) with one
    template / campaign step. Bounces and replies count on the day their email was sent, so
    a rate never exceeds 100%. Recounted from the source rows, never incremented."""

    day = models.DateField(verbose_name=_("day"))

    class Meta:
        verbose_name = _("email day stat")
        verbose_name_plural = _("email day stats")
        indexes = [
            models.Index(fields=["organization", "day"], name="emailstat_org_day"),
            models.Index(fields=["sender", "day"], name="emailstat_sender_day"),
            models.Index(fields=["template", "day"], name="emailstat_template_day"),
            models.Index(fields=["campaign", "day"], name="emailstat_campaign_day"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} {self.day}: {self.sent} sent"


class EmailMonthStat(EmailRollup):
    """Rollup: EmailDayStat summed over a calendar month (organization's time zone), so a
    twelve-month range reads twelve months of rows, not 365 days of them. A range is read
    as whole months from here plus the partial months at its edges from EmailDayStat."""

    month = models.DateField(help_text="The first day of the month.", verbose_name=_("month"))

    class Meta:
        verbose_name = _("email month stat")
        verbose_name_plural = _("email month stats")
        indexes = [
            models.Index(fields=["organization", "month"], name="monthstat_org_month"),
            models.Index(fields=["sender", "month"], name="monthstat_sender_month"),
            models.Index(fields=["template", "month"], name="monthstat_template_month"),
            models.Index(fields=["campaign", "month"], name="monthstat_campaign_month"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} {self.month:%Y-%m}: {self.sent} sent"


class SenderDayStat(models.Model):
    """Rollup: one sender's day, all templates together (the leaderboard and the charts)."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("organization"),
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("sender"),
    )
    day = models.DateField(verbose_name=_("day"))
    sent = models.PositiveIntegerField(default=0, verbose_name=_("sent"))
    bounced_hard = models.PositiveIntegerField(default=0, verbose_name=_("bounced hard"))
    bounced_soft = models.PositiveIntegerField(default=0, verbose_name=_("bounced soft"))
    replied = models.PositiveIntegerField(default=0, verbose_name=_("replied"))

    class Meta:
        verbose_name = _("sender day stat")
        verbose_name_plural = _("sender day stats")
        constraints = [
            models.UniqueConstraint(fields=["sender", "day"], name="senderstat_once_per_day")
        ]
        indexes = [models.Index(fields=["organization", "day"], name="senderstat_org_day")]

    def __str__(self) -> str:
        return f"{self.sender_id} {self.day}: {self.sent} sent"


class EnrollmentStat(models.Model):
    """Rollup: how many of one sender's enrollments in one campaign are in each state now."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("organization"),
    )
    campaign = models.ForeignKey(
        "outreach.Campaign",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("campaign"),
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        verbose_name=_("sender"),
    )
    state = models.CharField(max_length=20, verbose_name=_("state"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("enrollment stat")
        verbose_name_plural = _("enrollment stats")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "sender", "state"], name="enrollmentstat_once"
            )
        ]
        indexes = [models.Index(fields=["organization", "campaign"], name="enrollmentstat_org")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.sender_id} {self.state}: {self.count}"
