from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from channels_app.models import DeliveryChannel
from core.addresses import validate_header_name, validate_sendable_address
from core.models import TimeStampedModel
from core.names import person_name


class Prospect(TimeStampedModel):
    class EmailStatus(models.TextChoices):
        VALID = "valid", _("Valid")
        INVALID = "invalid", _("Invalid")

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="prospects",
        verbose_name=_("organization"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prospects",
        help_text="The rep who works this prospect.",
        verbose_name=_("owner"),
    )
    email = models.EmailField(
        max_length=254, validators=[validate_sendable_address], verbose_name=_("email")
    )
    first_name = models.CharField(
        max_length=100, blank=True, validators=[validate_header_name], verbose_name=_("first name")
    )
    last_name = models.CharField(
        max_length=100, blank=True, validators=[validate_header_name], verbose_name=_("last name")
    )
    company = models.CharField(max_length=200, blank=True, verbose_name=_("company"))
    title = models.CharField(max_length=200, blank=True, verbose_name=_("title"))
    email_status = models.CharField(
        max_length=16,
        choices=EmailStatus.choices,
        default=EmailStatus.VALID,
        verbose_name=_("email status"),
    )
    invalid_reason = models.CharField(max_length=500, blank=True, verbose_name=_("invalid reason"))
    invalidated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("invalidated at"))

    class Meta:
        verbose_name = _("prospect")
        verbose_name_plural = _("prospects")
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"], name="prospect_email_unique_per_org"
            ),
            models.CheckConstraint(
                condition=Q(email_status="valid", invalidated_at__isnull=True)
                | Q(email_status="invalid", invalidated_at__isnull=False),
                name="prospect_invalid_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "last_name"], name="prospect_owner_name"),
            # The CSV import matches known addresses whatever their case, a chunk at a time.
            models.Index(F("organization"), Lower("email"), name="prospect_org_email_lower"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return person_name(self.first_name, self.last_name) or self.email


class EmailTemplate(TimeStampedModel):
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="templates",
        verbose_name=_("organization"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="templates",
        verbose_name=_("owner"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    subject = models.CharField(max_length=500, verbose_name=_("subject"))
    body = models.TextField(
        help_text="Merge fields: {{ first_name }}, {{ company }}, … The plain text, or for an "
        "HTML template its plain-text alternative.",
        verbose_name=_("body"),
    )
    body_html = models.TextField(
        blank=True,
        help_text="An HTML template's body, sanitised (nh3); empty: plain text.",
        verbose_name=_("body HTML"),
    )
    is_shared = models.BooleanField(
        default=False, help_text="Visible to the whole organization.", verbose_name=_("is shared")
    )

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner", "name"], name="template_name_unique_per_owner"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="campaigns",
        verbose_name=_("organization"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("owner"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignStep(TimeStampedModel):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="steps", verbose_name=_("campaign")
    )
    position = models.PositiveSmallIntegerField(
        help_text="1 for the first email, then 2, 3…", verbose_name=_("position")
    )
    template = models.ForeignKey(
        EmailTemplate, on_delete=models.PROTECT, related_name="steps", verbose_name=_("template")
    )
    delay = models.DurationField(
        default=timedelta(days=2),
        help_text="Wait after the previous step (or enrollment).",
        verbose_name=_("delay"),
    )

    class Meta:
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="step_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · step {self.position}"


class Enrollment(TimeStampedModel):
    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        FINISHED = "finished", _("Finished")
        STOPPED_BOUNCED = "stopped_bounced", _("Stopped: bounced")
        STOPPED_REPLIED = "stopped_replied", _("Stopped: replied")
        STOPPED_SUPPRESSED = "stopped_suppressed", _("Stopped: suppressed")
        STOPPED_UNSUBSCRIBED = "stopped_unsubscribed", _("Stopped: unsubscribed")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("campaign")
    )
    prospect = models.ForeignKey(
        Prospect, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("prospect")
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="enrollments",
        verbose_name=_("sender"),
    )
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.ACTIVE, verbose_name=_("state")
    )
    next_step = models.ForeignKey(
        CampaignStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("next step"),
    )
    next_due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next due at"))
    stopped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stopped at"))

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "prospect"], name="enrollment_once_per_campaign"
            ),
            models.CheckConstraint(
                condition=~Q(state="active")
                | Q(next_step__isnull=False, next_due_at__isnull=False),
                name="active_enrollment_has_next_step",
            ),
        ]
        indexes = [
            # The due-steps task: active enrollments whose next step is due.
            models.Index(
                fields=["next_due_at"], condition=Q(state="active"), name="enrollment_due"
            ),
            models.Index(fields=["prospect", "state"], name="enrollment_prospect_state"),
        ]

    def __str__(self) -> str:
        return f"{self.prospect} in {self.campaign}"


class OutboundEmail(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        QUEUED = "queued", _("Queued")
        THROTTLED = "throttled", _("Throttled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        CANCELLED = "cancelled", _("Cancelled")

    # Statuses the send pipeline may still pick up; `next_attempt_at` says from when.
    PENDING_STATUSES = (Status.SCHEDULED, Status.QUEUED, Status.THROTTLED)

    class Priority(models.IntegerChoices):
        ONE_OFF = 0, "One-off"
        CAMPAIGN = 10, "Campaign step"

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        GMAIL_PLUGIN = "gmail_plugin", _("Gmail plug-in")
        OUTLOOK_PLUGIN = "outlook_plugin", _("Outlook plug-in")
        API = "api", _("API")

    # Indexes: every row is rewritten twice on the send path (claimed, sent) and each index
    # costs a write each time, so a foreign key whose column leads a composite index below
    # has no index of its own (db_index=False).
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="outbound_emails",
        db_index=False,  # email_org_outbox, email_org_sent, verbose_name=_("organization")
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="outbound_emails",
        db_index=False,  # email_outbox, analytics' sender indexes, verbose_name=_("sender")
    )
    prospect = models.ForeignKey(
        Prospect,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        verbose_name=_("prospect"),
    )
    to_address = models.EmailField(max_length=254, verbose_name=_("to address"))
    subject = models.CharField(max_length=998, verbose_name=_("subject"))
    body = models.TextField(verbose_name=_("body"))
    body_html = models.TextField(
        blank=True,
        help_text="Sent as the HTML part beside the plain text, when not empty.",
        verbose_name=_("body HTML"),
    )
    template = models.ForeignKey(
        EmailTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        db_index=False,  # email_template_sent, verbose_name=_("template")
    )
    campaign_step = models.ForeignKey(
        CampaignStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        db_index=False,  # email_step_sent, verbose_name=_("campaign step")
    )
    enrollment = models.ForeignKey(
        Enrollment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        verbose_name=_("enrollment"),
    )
    source = models.CharField(
        max_length=20, choices=Source.choices, default=Source.WEB, verbose_name=_("source")
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status")
    )
    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        verbose_name=_("channel"),
    )
    channel_kind = models.CharField(
        max_length=32,
        blank=True,
        help_text="The channel's kind, kept if the channel is removed.",
        verbose_name=_("channel kind"),
    )
    # Unique through Meta.constraints: a unique=True CharField also gets a LIKE index on
    # PostgreSQL, and Message-IDs are only ever looked up whole.
    message_id = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="Generated by Mailroom.",
        verbose_name=_("message ID"),
    )
    scheduled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled at"))
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("failed at"))
    failure_reason = models.CharField(max_length=1000, blank=True, verbose_name=_("failure reason"))
    bounced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("bounced at"))
    replied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("replied at"))

    # The send pipeline's bookkeeping (channels_app.sending).
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices,
        default=Priority.ONE_OFF,
        help_text="Lower goes first: one-off emails ahead of campaign steps in a mailbox queue.",
        verbose_name=_("priority"),
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a pending email may go: its schedule, the next send window, or a retry.",
        verbose_name=_("next attempt at"),
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A worker's claim on a sending email expires then.",
        verbose_name=_("lease until"),
    )
    claim_token = models.UUIDField(
        null=True, blank=True, editable=False, verbose_name=_("claim token")
    )
    waiting_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a pending email has not gone out yet.",
        verbose_name=_("waiting reason"),
    )
    provider_message_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="The provider's id for the sent message (Gmail).",
        verbose_name=_("provider message ID"),
    )
    idempotency_key = models.CharField(
        max_length=100,
        blank=True,
        help_text="The API client's Idempotency-Key, if it sent one.",
        verbose_name=_("idempotency key"),
    )
    # Not stored: True on the email email_enqueue returns for an Idempotency-Key already used,
    # so the API answers a replay 200 rather than 201.
    replayed: bool = False

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="email_message_id_unique"),
            models.UniqueConstraint(
                fields=["enrollment", "campaign_step"],
                condition=Q(enrollment__isnull=False, campaign_step__isnull=False),
                name="email_once_per_enrollment_step",
            ),
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="email_idempotency_key_once",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["scheduled", "queued", "throttled"])
                | Q(next_attempt_at__isnull=False),
                name="pending_email_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="sent_email_has_sent_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="failed_email_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="scheduled_email_has_time",
            ),
        ]
        indexes = [
            # The outbox: a sender's (or team's) emails by status, newest first.
            models.Index(fields=["sender", "status", "-created_at"], name="email_outbox"),
            models.Index(fields=["organization", "status", "-created_at"], name="email_org_outbox"),
            # Analytics and correlation by time.
            models.Index(fields=["organization", "sent_at"], name="email_org_sent"),
            models.Index(fields=["template", "sent_at"], name="email_template_sent"),
            models.Index(fields=["campaign_step", "sent_at"], name="email_step_sent"),
            models.Index(fields=["to_address", "sent_at"], name="email_recipient_sent"),
            # A mailbox's queue, in the order it drains: one-off first, then oldest due.
            models.Index(
                fields=["channel", "priority", "next_attempt_at", "id"],
                condition=Q(status__in=["scheduled", "queued", "throttled"]),
                name="email_channel_queue",
            ),
            # The dispatcher: which pending emails are due, whatever their mailbox.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["scheduled", "queued", "throttled"]),
                name="email_pending_due",
            ),
            # Lease recovery: sending emails whose worker vanished.
            models.Index(
                fields=["lease_until"], condition=Q(status="sending"), name="email_sending_lease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_address}"

    @property
    def channel_label(self) -> str:
        """The channel's kind as people read it ("Gmail"), kept after the channel is removed."""
        if not self.channel_kind:
            return ""
        try:
            return DeliveryChannel.Kind(self.channel_kind).label
        except ValueError:
            return self.channel_kind


class ApiToken(TimeStampedModel):
    """A personal token for the Gmail and Outlook plug-ins (`POST /api/v1/emails/`). Only a
    SHA-256 of the token is stored: the token is random (256 bits), so a slow hash adds
    nothing, and the hash is looked up directly."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(
        max_length=100,
        help_text='Where it is used, e.g. "Outlook plug-in".',
        verbose_name=_("name"),
    )
    prefix = models.CharField(
        max_length=16,
        help_text="The token's first characters, to tell tokens apart.",
        verbose_name=_("prefix"),
    )
    key_hash = models.CharField(max_length=64, unique=True, verbose_name=_("key hash"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("api token")
        verbose_name_plural = _("api tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ProspectImport(TimeStampedModel):
    """A CSV of prospects a user uploaded: its columns matched to prospect fields, then read by
    a Celery task a chunk at a time (rows_done says how far), every row it could not import or
    wanted to point out kept as a ProspectImportIssue."""

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for the columns to be matched")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class OnDuplicate(models.TextChoices):
        UPDATE = "update", _("Update the existing prospect with the file's values")
        SKIP = "skip", _("Skip the row and leave the existing prospect as it is")

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="prospect_imports",
        verbose_name=_("organization"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="prospect_imports",
        verbose_name=_("created by"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who the new prospects belong to.",
        verbose_name=_("owner"),
    )
    file_name = models.CharField(max_length=255, verbose_name=_("file name"))
    # The file as text until the import is done (then emptied: the issues keep their rows).
    content = models.TextField(blank=True, verbose_name=_("content"))
    delimiter = models.CharField(max_length=1, default=",", verbose_name=_("delimiter"))
    headers = models.JSONField(default=list, verbose_name=_("headers"))
    mapping = models.JSONField(
        default=dict, help_text="Prospect field → column number.", verbose_name=_("mapping")
    )
    on_duplicate = models.CharField(
        max_length=8,
        choices=OnDuplicate.choices,
        default=OnDuplicate.UPDATE,
        verbose_name=_("on duplicate"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.MAPPING, verbose_name=_("status")
    )
    total_rows = models.PositiveIntegerField(default=0, verbose_name=_("total rows"))
    rows_done = models.PositiveIntegerField(default=0, verbose_name=_("rows done"))
    created_count = models.PositiveIntegerField(default=0, verbose_name=_("created count"))
    updated_count = models.PositiveIntegerField(default=0, verbose_name=_("updated count"))
    skipped_count = models.PositiveIntegerField(default=0, verbose_name=_("skipped count"))
    error_count = models.PositiveIntegerField(default=0, verbose_name=_("error count"))
    flagged_count = models.PositiveIntegerField(default=0, verbose_name=_("flagged count"))
    failure_reason = models.CharField(max_length=500, blank=True, verbose_name=_("failure reason"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("prospect import")
        verbose_name_plural = _("prospect imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="prospect_import_user")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else min(100, self.rows_done * 100 // self.total_rows)


class ProspectImportIssue(models.Model):
    """One row of an import that was not imported (error), left alone (skipped), or imported
    with something to know (flagged: on the suppression list, marked invalid)."""

    class Kind(models.TextChoices):
        ERROR = "error", _("Not imported")
        SKIPPED = "skipped", _("Skipped")
        FLAGGED = "flagged", _("Imported, flagged")

    prospect_import = models.ForeignKey(
        ProspectImport,
        on_delete=models.CASCADE,
        related_name="issues",
        verbose_name=_("prospect import"),
    )
    row_number = models.PositiveIntegerField(
        help_text="The row in the file; the header is row 1.", verbose_name=_("row number")
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    email = models.CharField(max_length=500, blank=True, verbose_name=_("email"))
    reason = models.CharField(max_length=1000, verbose_name=_("reason"))
    values = models.JSONField(
        default=list, help_text="The row's cells as the file had them.", verbose_name=_("values")
    )

    class Meta:
        verbose_name = _("prospect import issue")
        verbose_name_plural = _("prospect import issues")
        ordering = ["prospect_import", "row_number"]
        indexes = [models.Index(fields=["prospect_import", "row_number"], name="import_issue_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
