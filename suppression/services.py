"""Writes to the suppression list. Bounce outcomes and prospect effects (above) call these;
they import only models and the list's own reads (README, "Architecture")."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import DomainNameValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from bounces.models import Bounce, InboxMessage
from outreach.models import OutboundEmail, Prospect

from .models import Suppression, SuppressionPolicy
from .selectors import address_normalize, suppression_policy

_domain_validator = DomainNameValidator(accept_idna=False)


def suppression_entry_parse(*, value: str) -> tuple[str, str]:
    """(scope, address) for what an admin typed: an address, or a domain ('northwind.test' or
    '@northwind.test') for the whole domain. Raises ValidationError saying what is wrong."""
    text = address_normalize(value)
    if not text:
        raise ValidationError(_("Enter an email address or a domain."))
    if text.startswith("@"):
        text = text[1:]
    elif "@" in text:
        try:
            validate_email(text)
        except ValidationError:
            raise ValidationError(
                _("“%(value)s” is not a valid email address (expected name@domain).")
                % {"value": value.strip()}
            ) from None
        return Suppression.Scope.ADDRESS, text
    try:
        _domain_validator(text)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is neither an email address nor a domain name.")
            % {"value": value.strip()}
        ) from None
    if "." not in text:
        raise ValidationError(
            _("“%(value)s” is not a full domain name (e.g. example.com).")
            % {"value": value.strip()}
        )
    return Suppression.Scope.DOMAIN, text


def suppression_add(
    *,
    organization_id: int,
    value: str,
    reason: str,
    detail: str = "",
    created_by: User | None = None,
    source_bounce: Bounce | None = None,
    source_email: OutboundEmail | None = None,
    source_message: InboxMessage | None = None,
) -> tuple[Suppression, bool]:
    """Suppress an address or a whole domain. An address already suppressed keeps its first
    entry (returned with created=False). Raises ValidationError for a malformed value."""
    if reason not in Suppression.Reason.values:
        raise ValidationError(_("Unknown suppression reason: %(reason)s.") % {"reason": reason})
    scope, address = suppression_entry_parse(value=value)
    active = Suppression.objects.filter(
        organization_id=organization_id, scope=scope, address=address, removed_at__isnull=True
    )
    existing = active.first()
    if existing is not None:
        return existing, False
    entry = Suppression(
        organization_id=organization_id,
        scope=scope,
        address=address,
        reason=reason,
        detail=" ".join(detail.split())[:500],
        created_by=created_by,
        source_bounce=source_bounce,
        source_email=source_email,
        source_message=source_message,
    )
    entry.full_clean(
        exclude=["organization", "source_bounce", "source_email", "source_message", "created_by"],
        validate_constraints=False,
        validate_unique=False,
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        # Another worker suppressed the same address at the same moment: theirs stands.
        return active.get(), False
    return entry, True


@transaction.atomic
def suppression_remove(*, entry: Suppression, user: User, reason: str) -> bool:
    """Lift a suppression (recorded: who, when, why; the entry stays as history). Prospects
    whose address it covered may be emailed and enrolled again. False when already removed."""
    if not (
        user.is_superuser or (user.is_org_admin and user.organization_id == entry.organization_id)
    ):
        raise PermissionDenied(_("Only an admin of the organization can remove a suppression."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(_("Say why the address may be emailed again."))
    now = timezone.now()
    removed = Suppression.objects.filter(pk=entry.pk, removed_at__isnull=True).update(
        removed_at=now, removed_by=user, removal_reason=reason[:500], updated_at=now
    )
    if not removed:
        return False
    prospects = Prospect.objects.filter(
        organization_id=entry.organization_id, email_status=Prospect.EmailStatus.INVALID
    )
    if entry.scope == Suppression.Scope.DOMAIN:
        prospects = prospects.filter(email__iendswith="@" + entry.address)
    else:
        prospects = prospects.filter(email__iexact=entry.address)
    prospects.update(
        email_status=Prospect.EmailStatus.VALID,
        invalid_reason="",
        invalidated_at=None,
        updated_at=now,
    )
    entry.refresh_from_db()
    return True


def suppression_policy_update(
    *, organization: Organization, user: User, **values
) -> SuppressionPolicy:
    """Change the organization's thresholds and header setting (its admins only)."""
    if not (user.is_superuser or (user.is_org_admin and user.organization_id == organization.pk)):
        raise PermissionDenied(_("Only an admin of the organization can change these settings."))
    policy = suppression_policy(organization_id=organization.pk)
    fields = []
    for name, value in values.items():
        if name not in {
            "soft_bounce_limit",
            "soft_bounce_window_days",
            "complaint_rate_limit",
            "unsubscribe_header_one_off",
        }:
            raise ValueError(f"not a policy setting: {name}")
        setattr(policy, name, value)
        fields.append(name)
    policy.full_clean(exclude=["organization"])
    if policy.pk is None:
        policy.save()
    else:
        policy.save(update_fields=[*fields, "updated_at"])
    return policy
