"""The organization's suppression list: who may not be emailed, and why.

Every send path reads it twice (when an email is queued, and again just before the provider is
called); bounce outcomes, unsubscribes and admins write it. An entry is never deleted: a removal
is recorded (who, when, why), so the list keeps its own history."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class Suppression(TimeStampedModel):
    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        SOFT_BOUNCES = "soft_bounces", _("Soft bounces over the limit")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        COMPLAINED = "complained", _("Complained (spam report)")
        MANUAL = "manual", _("Do not contact")

    class Scope(models.TextChoices):
        ADDRESS = "address", _("Address")
        DOMAIN = "domain", _("Whole domain")

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="suppressions",
        verbose_name=_("organization"),
    )
    scope = models.CharField(
        max_length=16, choices=Scope.choices, default=Scope.ADDRESS, verbose_name=_("scope")
    )
    address = models.CharField(
        max_length=254,
        help_text="The email address, or the domain for a whole-domain entry.",
        verbose_name=_("address"),
    )
    reason = models.CharField(max_length=16, choices=Reason.choices, verbose_name=_("reason"))
    detail = models.CharField(
        max_length=500,
        blank=True,
        help_text="The bounce's diagnostic, or the admin's note.",
        verbose_name=_("detail"),
    )
    # Where the entry came from: the bounce, the email whose unsubscribe link was used, the
    # reply that asked to be removed, or the person who added it.
    source_bounce = models.ForeignKey(
        "bounces.Bounce",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("source bounce"),
    )
    source_email = models.ForeignKey(
        "outreach.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("source email"),
    )
    source_message = models.ForeignKey(
        "bounces.InboxMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("source message"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("removed by"),
    )
    removal_reason = models.CharField(max_length=500, blank=True, verbose_name=_("removal reason"))

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        ordering = ["-created_at"]
        constraints = [
            # One active entry per address (or domain); removed ones are history.
            models.UniqueConstraint(
                fields=["organization", "scope", "address"],
                condition=Q(removed_at__isnull=True),
                name="suppression_active_once",
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | ~Q(removal_reason=""),
                name="suppression_removal_has_reason",
            ),
        ]
        indexes = [
            # The suppression page: newest first, per organization.
            models.Index(fields=["organization", "-created_at"], name="suppression_org_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.get_reason_display()})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class SuppressionPolicy(TimeStampedModel):
    """The organization's sender-reputation settings. Without a row the defaults apply
    (MAILROOM_SOFT_BOUNCE_LIMIT / _WINDOW_DAYS, the header on campaign mail only)."""

    organization = models.OneToOneField(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="suppression_policy",
        verbose_name=_("organization"),
    )
    soft_bounce_limit = models.PositiveSmallIntegerField(
        default=3,
        help_text="Soft bounces (separate emails) that suppress an address…",
        verbose_name=_("soft bounce limit"),
    )
    soft_bounce_window_days = models.PositiveSmallIntegerField(
        default=30, help_text="…within this many days.", verbose_name=_("soft bounce window days")
    )
    complaint_rate_limit = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.30"),
        help_text="Warn when spam complaints over the last 30 days pass this share of the "
        "emails sent, in percent (Gmail's and Yahoo's bulk-sender limit is 0.3%).",
        verbose_name=_("complaint rate limit"),
    )
    unsubscribe_header_one_off = models.BooleanField(
        default=False,
        help_text="Put the one-click List-Unsubscribe header on one-off emails too "
        "(campaign emails always carry it).",
        verbose_name=_("unsubscribe header one off"),
    )

    class Meta:
        verbose_name = _("suppression policy")
        verbose_name_plural = _("suppression policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(soft_bounce_limit__gte=1)
                & Q(soft_bounce_window_days__gte=1)
                & Q(complaint_rate_limit__gt=0),
                name="suppression_policy_positive",
            )
        ]

    def __str__(self) -> str:
        return f"Suppression policy of {self.organization}"
