"""Writes for outreach: prospects, enrollments, outbound emails, API tokens.

Emails enter the send pipeline (channels_app.sending) here: a pending email has a channel
resolved now, a Message-ID generated now (stored before anything is sent), and a
`next_attempt_at`; its mailbox queue is woken on commit. The channel is resolved again at
send time."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from accounts.selectors import user_list_visible
from analytics.feed import feed_event_record, feed_text
from analytics.models import FeedEvent
from channels_app.sending.mime import message_id_new
from channels_app.sending.resolution import NoUsableChannel, email_channel_resolve
from channels_app.sending.services import channel_queue_kick, channel_queue_schedule
from core.addresses import address_problem, name_problem
from suppression.selectors import (
    RecipientSuppressed,
    suppression_check,
    suppression_reason_text,
    suppressions_find,
)

from .html_body import html_sanitize, html_to_text, signature_append
from .inputs import body_problem, subject_problem
from .merge import MergeError, merge_problem, merge_values, render
from .models import (
    ApiToken,
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
)

Status = OutboundEmail.Status


# --- prospects --------------------------------------------------------------------------------

PROSPECT_FIELDS = ("email", "first_name", "last_name", "company", "title", "owner")


def _prospect_save(prospect: Prospect, *, user: User) -> Prospect:
    if prospect.owner_id and not user_list_visible(user=user).filter(pk=prospect.owner_id).exists():
        raise ValidationError({"owner": gettext("Pick an owner from your team.")})
    prospect.email = prospect.email.strip()
    if problem := address_problem(prospect.email):
        raise ValidationError({"email": problem})
    taken = Prospect.objects.filter(
        organization_id=prospect.organization_id, email__iexact=prospect.email
    ).exclude(pk=prospect.pk)
    if taken.exists():
        raise ValidationError(
            {"email": gettext("This address is already a prospect in your organization.")}
        )
    prospect.full_clean(exclude=["organization", "owner"], validate_unique=False)
    prospect.save()
    return prospect


@transaction.atomic
def prospect_create(*, user: User, owner: User | None, **fields: str) -> Prospect:
    """A prospect added by hand. Raises ValidationError per field (a bad or taken address, an
    owner outside the user's team)."""
    prospect = Prospect(organization_id=user.organization_id, owner=owner or user, **fields)
    return _prospect_save(prospect, user=user)


@transaction.atomic
def prospect_update(
    *, prospect: Prospect, user: User, owner: User | None, **fields: str
) -> Prospect:
    """Edit a prospect. A new address starts valid: what bounced was the old one (the
    suppression list still applies to the new one when mail is sent)."""
    new_address = fields.get("email", prospect.email).strip().lower() != prospect.email.lower()
    for name, value in fields.items():
        setattr(prospect, name, value)
    prospect.owner = owner or prospect.owner
    if new_address and prospect.email_status == Prospect.EmailStatus.INVALID:
        prospect.email_status = Prospect.EmailStatus.VALID
        prospect.invalid_reason, prospect.invalidated_at = "", None
    return _prospect_save(prospect, user=user)


@transaction.atomic
def prospect_delete(*, prospect: Prospect) -> None:
    """Delete a prospect: its emails not yet sent are cancelled (with the reason, in the
    outbox) and its enrollments end; sent emails stay, for the outbox and the analytics."""
    OutboundEmail.objects.filter(
        prospect=prospect, status__in=OutboundEmail.PENDING_STATUSES
    ).update(
        status=Status.CANCELLED,
        waiting_reason="",
        failure_reason="Not sent: the prospect was deleted.",
        updated_at=timezone.now(),
    )
    prospect.delete()


# --- templates --------------------------------------------------------------------------------


def template_content(*, subject: str, body: str, is_html: bool) -> dict[str, str]:
    """A template's stored subject, body and HTML body from what the editor holds: an HTML
    body is sanitised and its plain-text alternative written from it. Raises ValidationError
    per field for merge-field mistakes and over-long text."""
    body_html = html_sanitize(body) if is_html else ""
    text = html_to_text(body_html) if is_html else body
    errors = {}
    if problem := subject_problem(subject) or merge_problem(subject):
        errors["subject"] = problem
    # The merge fields as they will be stored (an HTML body's after sanitising).
    if problem := body_problem(body) or merge_problem(body_html or body):
        errors["body"] = problem
    if errors:
        raise ValidationError(errors)
    return {"subject": subject, "body": text, "body_html": body_html}


def _template_save(template: EmailTemplate) -> EmailTemplate:
    taken = EmailTemplate.objects.filter(
        organization_id=template.organization_id, owner_id=template.owner_id, name=template.name
    ).exclude(pk=template.pk)
    if taken.exists():
        raise ValidationError(
            {
                "name": gettext("%(owner)s already has a template named this.")
                % {"owner": template.owner}
            }
        )
    template.full_clean(exclude=["organization", "owner"], validate_unique=False)
    template.save()
    return template


@transaction.atomic
def template_create(
    *, user: User, name: str, subject: str, body: str, is_html: bool, is_shared: bool
) -> EmailTemplate:
    template = EmailTemplate(
        organization_id=user.organization_id,
        owner=user,
        name=name.strip(),
        is_shared=is_shared,
        **template_content(subject=subject, body=body, is_html=is_html),
    )
    return _template_save(template)


@transaction.atomic
def template_update(
    *,
    template: EmailTemplate,
    name: str,
    subject: str,
    body: str,
    is_html: bool,
    is_shared: bool,
) -> EmailTemplate:
    """Edit a template. Emails already queued keep the text they were queued with; campaign
    steps not yet sent use the new one."""
    for field, value in template_content(subject=subject, body=body, is_html=is_html).items():
        setattr(template, field, value)
    template.name, template.is_shared = name.strip(), is_shared
    return _template_save(template)


@transaction.atomic
def template_duplicate(*, template: EmailTemplate, user: User) -> EmailTemplate:
    """A private copy for `user` (of their own template, or of a colleague's shared one)."""
    name = f"{template.name} (copy)"
    taken = set(
        EmailTemplate.objects.filter(
            organization_id=user.organization_id, owner=user, name__startswith=name
        ).values_list("name", flat=True)
    )
    number = 2
    while name in taken:
        name, number = f"{template.name} (copy {number})", number + 1
    copy = EmailTemplate(
        organization_id=user.organization_id,
        owner=user,
        name=name[:200],
        subject=template.subject,
        body=template.body,
        body_html=template.body_html,
        is_shared=False,
    )
    return _template_save(copy)


def template_delete(*, template: EmailTemplate) -> None:
    """Delete a template no campaign step uses (raises ValidationError naming the campaigns
    that do). Its emails stay in the outbox, without the template."""
    campaigns = sorted(set(template.steps.values_list("campaign__name", flat=True)), key=str.lower)
    if campaigns:
        raise ValidationError(
            gettext("Campaign steps use this template (%(campaigns)s): change those steps first.")
            % {"campaigns": ", ".join(campaigns)}
        )
    template.delete()


def user_signature_update(*, user: User, signature: str) -> None:
    """The signature added under every email the user sends (at most 2,000 characters)."""
    signature = signature.strip()
    if len(signature) > 2000:
        raise ValidationError({"signature": gettext("A signature is at most 2,000 characters.")})
    user.signature = signature
    user.save(update_fields=["signature"])


# --- outbound emails ---------------------------------------------------------------------------


def _wake(email: OutboundEmail) -> None:
    if email.channel_id is None:
        return
    if email.status == Status.SCHEDULED:
        channel_queue_schedule(channel_id=email.channel_id, at=email.next_attempt_at)
    else:
        channel_queue_kick(channel_id=email.channel_id)


@transaction.atomic
def sender_name_problem(sender: User) -> str:
    """The sender's name goes into the From line: a line break or control character in it
    (typed before names were checked) is refused with where to fix it."""
    problem = name_problem(sender.display_name, what=f"name of {sender.email}")
    return f"{problem} Fix it in the user's profile (Django admin, Users)." if problem else ""


def email_enqueue(
    *,
    sender: User,
    to_address: str,
    subject: str,
    body: str,
    prospect: Prospect | None = None,
    template: EmailTemplate | None = None,
    source: str = OutboundEmail.Source.WEB,
    scheduled_at: datetime | None = None,
    idempotency_key: str = "",
    body_html: str = "",
) -> OutboundEmail:
    """Queue a one-off email (already rendered) for `sender`, now or at `scheduled_at`.
    Raises NoUsableChannel when there is nothing to send through (the plug-in rule included),
    RecipientSuppressed when the address is on the organization's suppression list and
    ValidationError for a bad address. With an `idempotency_key` already used by the sender,
    returns that email instead of queueing a second one, with `replayed` set."""
    if idempotency_key:
        existing = OutboundEmail.objects.filter(
            sender=sender, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            existing.replayed = True
            return existing
    suppression_check(organization_id=sender.organization_id, address=to_address)
    channel = email_channel_resolve(sender=sender, source=source)
    now = timezone.now()
    scheduled = scheduled_at is not None and scheduled_at > now
    email = OutboundEmail(
        organization_id=sender.organization_id,
        sender=sender,
        prospect=prospect,
        to_address=to_address.strip(),
        subject=subject,
        body=body,
        body_html=body_html,
        template=template,
        source=source,
        status=Status.SCHEDULED if scheduled else Status.QUEUED,
        priority=OutboundEmail.Priority.ONE_OFF,
        channel=channel,
        channel_kind=channel.kind,
        message_id=message_id_new(sender_address=channel.mailbox_address or sender.email),
        scheduled_at=scheduled_at if scheduled else None,
        queued_at=now,
        next_attempt_at=scheduled_at if scheduled else now,
        idempotency_key=idempotency_key,
    )
    if problem := address_problem(to_address):
        raise ValidationError({"to_address": problem})
    if problem := sender_name_problem(sender):
        raise ValidationError({"sender": problem})
    # Field validation only: uniqueness and constraints are the database's job (one insert,
    # not a query per constraint).
    email.full_clean(
        exclude=["organization", "sender", "prospect", "template", "channel"],
        validate_unique=False,
        validate_constraints=False,
    )
    if not idempotency_key:
        email.save()
    else:
        # A concurrent request with the same key may win the insert: answer with its email.
        try:
            with transaction.atomic():
                email.save()
        except IntegrityError:
            existing = OutboundEmail.objects.get(sender=sender, idempotency_key=idempotency_key)
            existing.replayed = True
            return existing
    _wake(email)
    return email


def email_compose(
    *,
    sender: User,
    prospect: Prospect,
    subject: str,
    body: str,
    template: EmailTemplate | None = None,
    scheduled_at: datetime | None = None,
) -> OutboundEmail:
    """The compose page: merge fields filled from the prospect, the sender's signature added,
    then queued. An HTML template's HTML part goes too while the body is the template's own
    (an edited body is sent as the plain text it now is). Raises MergeError for an unknown
    merge field and NoUsableChannel when the sender cannot send."""
    html = template.body_html if template is not None and body == template.body else ""
    rendered = render(
        subject=subject,
        body=body,
        body_html=html,
        values=merge_values(prospect=prospect, sender=sender),
    )
    text, html = signature_append(
        body=rendered.body, body_html=rendered.body_html, signature=sender.signature
    )
    return email_enqueue(
        sender=sender,
        to_address=prospect.email,
        subject=rendered.subject,
        body=text,
        body_html=html,
        prospect=prospect,
        template=template,
        scheduled_at=scheduled_at,
    )


@transaction.atomic
def email_retry(*, email: OutboundEmail) -> OutboundEmail:
    """ "Retry send" on a failed email: it goes back in the queue of the channel it resolves
    to now (say, after the rep fixed their SMTP credentials), with a fresh set of tries.
    Raises NoUsableChannel, RecipientSuppressed (the address was suppressed meanwhile), or
    ValidationError when the email is not failed."""
    locked = OutboundEmail.objects.select_for_update().select_related("sender").get(pk=email.pk)
    if locked.status != Status.FAILED:
        raise ValidationError(gettext("Only a failed email can be retried."))
    suppression_check(organization_id=locked.organization_id, address=locked.to_address)
    channel = email_channel_resolve(sender=locked.sender, source=locked.source)
    now = timezone.now()
    locked.status = Status.QUEUED
    locked.channel = channel
    locked.channel_kind = channel.kind
    locked.failure_reason = ""
    locked.failed_at = None
    locked.waiting_reason = ""
    locked.attempts = 0
    locked.next_attempt_at = now
    locked.queued_at = now
    locked.save(
        update_fields=[
            "status",
            "channel",
            "channel_kind",
            "failure_reason",
            "failed_at",
            "waiting_reason",
            "attempts",
            "next_attempt_at",
            "queued_at",
            "updated_at",
        ]
    )
    _wake(locked)
    return locked


def email_cancel(*, email: OutboundEmail) -> bool:
    """ "Cancel" a scheduled (or still waiting) email. False when it is already on its way."""
    return bool(
        OutboundEmail.objects.filter(pk=email.pk, status__in=OutboundEmail.PENDING_STATUSES).update(
            status=Status.CANCELLED, waiting_reason="Cancelled.", updated_at=timezone.now()
        )
    )


@dataclass(frozen=True)
class BulkRetryResult:
    retried: int
    not_failed: int  # no longer failed (already retried, or never was)
    refused: dict[str, int]  # reason -> how many emails it kept from going


def emails_retry(*, emails: list[OutboundEmail]) -> BulkRetryResult:
    """Retry send on each of the emails (the outbox's "Retry selected"): the failed ones go
    back in their channel's queue; the others are counted with why they did not."""
    retried, not_failed = 0, 0
    refused: dict[str, int] = {}
    for email in emails:
        try:
            email_retry(email=email)
        except (NoUsableChannel, RecipientSuppressed) as exc:
            refused[exc.reason] = refused.get(exc.reason, 0) + 1
        except ValidationError:
            not_failed += 1
        else:
            retried += 1
    return BulkRetryResult(retried=retried, not_failed=not_failed, refused=refused)


def emails_cancel(*, emails: list[OutboundEmail]) -> int:
    """Cancel each of the emails still waiting to go (the outbox's "Cancel selected");
    returns how many were cancelled (the others were already on their way or done)."""
    return OutboundEmail.objects.filter(
        pk__in=[email.pk for email in emails], status__in=OutboundEmail.PENDING_STATUSES
    ).update(status=Status.CANCELLED, waiting_reason="Cancelled.", updated_at=timezone.now())


# --- campaigns ---------------------------------------------------------------------------------


MAX_STEP_DELAY = timedelta(days=365)


@transaction.atomic
def campaign_create(*, user: User, name: str) -> Campaign:
    """A new campaign, a draft until it has steps and is activated."""
    campaign = Campaign(organization_id=user.organization_id, owner=user, name=name.strip())
    campaign.full_clean(exclude=["organization", "owner"])
    campaign.save()
    return campaign


def _step_check(*, campaign: Campaign, template: EmailTemplate, delay: timedelta) -> None:
    if template.organization_id != campaign.organization_id:
        raise PermissionDenied
    if not timedelta(0) <= delay <= MAX_STEP_DELAY:
        raise ValidationError({"delay": gettext("A step waits between 0 and 365 days.")})
    problem = merge_problem(template.subject) or merge_problem(template.body_html or template.body)
    if problem:
        raise ValidationError(
            {
                "template": gettext("The template “%(name)s” cannot be sent: %(problem)s")
                % {"name": template.name, "problem": problem}
            }
        )


@transaction.atomic
def campaign_step_add(
    *, campaign: Campaign, template: EmailTemplate, delay: timedelta
) -> CampaignStep:
    """A step at the end of the campaign."""
    _step_check(campaign=campaign, template=template, delay=delay)
    last = campaign.steps.order_by("-position").values_list("position", flat=True).first() or 0
    step = CampaignStep(campaign=campaign, position=last + 1, template=template, delay=delay)
    step.save()
    return step


@transaction.atomic
def campaign_step_update(
    *, step: CampaignStep, template: EmailTemplate, delay: timedelta
) -> CampaignStep:
    """Change a step's template or wait. Prospects already waiting for this step keep the due
    time they were given; the new wait applies to those who reach the step from now on."""
    _step_check(campaign=step.campaign, template=template, delay=delay)
    step.template, step.delay = template, delay
    step.save(update_fields=["template", "delay", "updated_at"])
    return step


@transaction.atomic
def campaign_step_remove(*, step: CampaignStep) -> None:
    """Remove a step no email was made from yet (raises ValidationError otherwise: its
    emails and their analytics name it). Prospects waiting for it go on to the following
    step, or finish when it was the last; the later steps move up."""
    if step.emails.exists():
        raise ValidationError(
            gettext(
                "Step %(position)s has already sent emails, which its analytics count: change "
                "its template or wait instead, or pause the campaign."
            )
            % {"position": step.position}
        )
    following = _next_step(step)
    waiting = Enrollment.objects.filter(next_step=step)
    now = timezone.now()
    if following is None:
        # Only open enrollments point at a next step: they have nothing left to send.
        waiting.update(
            state=Enrollment.State.FINISHED,
            next_step=None,
            next_due_at=None,
            updated_at=now,
        )
    else:
        waiting.update(next_step=following, updated_at=now)
    campaign_id, position = step.campaign_id, step.position
    step.delete()
    for later in CampaignStep.objects.filter(
        campaign_id=campaign_id, position__gt=position
    ).order_by("position"):
        CampaignStep.objects.filter(pk=later.pk).update(position=later.position - 1)


@transaction.atomic
def campaign_step_move(*, step: CampaignStep, offset: int) -> bool:
    """Swap a step with the one before (offset -1) or after (+1). False at either end."""
    other = CampaignStep.objects.filter(
        campaign_id=step.campaign_id, position=step.position + offset
    ).first()
    if other is None:
        return False
    spare = (CampaignStep.objects.filter(campaign_id=step.campaign_id).count() or 0) + 100
    mine, theirs = step.position, other.position
    CampaignStep.objects.filter(pk=step.pk).update(position=spare)
    CampaignStep.objects.filter(pk=other.pk).update(position=mine)
    CampaignStep.objects.filter(pk=step.pk).update(position=theirs)
    step.position = theirs
    return True


@transaction.atomic
def campaign_status_set(*, campaign: Campaign, status: str) -> None:
    """Activate (from draft or paused) or pause a campaign. Pausing holds its steps, queued
    ones included; activating sends what came due meanwhile at once."""
    if status == Campaign.Status.ACTIVE:
        if not campaign.steps.exists():
            raise ValidationError(gettext("Add a step before activating the campaign."))
    elif status != Campaign.Status.PAUSED:
        raise ValidationError(gettext("A campaign is activated or paused here."))
    Campaign.objects.filter(pk=campaign.pk).update(status=status, updated_at=timezone.now())
    campaign.status = status
    if status == Campaign.Status.ACTIVE:
        _campaign_steps_kick()
        held = OutboundEmail.objects.filter(
            enrollment__campaign=campaign, status__in=OutboundEmail.PENDING_STATUSES
        ).values_list("channel_id", flat=True)
        for channel_id in set(held):
            if channel_id:
                channel_queue_kick(channel_id=channel_id)


@dataclass(frozen=True)
class EnrollResult:
    enrolled: int
    already_enrolled: int
    invalid_address: int  # invalid or on the suppression list


def enrollments_create(
    *, campaign: Campaign, prospects: list[Prospect], sender: User
) -> EnrollResult:
    """Enroll prospects (one or many at once) in the campaign; the first step is due after
    its delay. Prospects already in the campaign, with an invalid address or on the
    suppression list are skipped."""
    first_step = campaign.steps.order_by("position").first()
    if first_step is None:
        raise ValidationError(gettext("Add a step to the campaign before enrolling prospects."))
    if campaign.organization_id != sender.organization_id:
        raise PermissionDenied
    prospects = [p for p in prospects if p.organization_id == campaign.organization_id]
    suppressed = suppressions_find(
        organization_id=campaign.organization_id, addresses=[p.email for p in prospects]
    )
    valid = [
        p
        for p in prospects
        if p.email_status == Prospect.EmailStatus.VALID
        and p.email.lower() not in suppressed
        and not address_problem(p.email)
    ]
    existing = set(
        Enrollment.objects.filter(campaign=campaign, prospect__in=valid).values_list(
            "prospect_id", flat=True
        )
    )
    now = timezone.now()
    rows = [
        Enrollment(
            campaign=campaign,
            prospect=prospect,
            sender=sender,
            state=Enrollment.State.ACTIVE,
            next_step=first_step,
            next_due_at=now + first_step.delay,
        )
        for prospect in valid
        if prospect.pk not in existing
    ]
    with transaction.atomic():
        created = Enrollment.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        if created and first_step.delay <= timedelta(0):
            _campaign_steps_kick()
    return EnrollResult(
        enrolled=len(created),
        already_enrolled=len(existing),
        invalid_address=len(prospects) - len(valid),
    )


def enrollment_pause(*, enrollment: Enrollment) -> bool:
    return bool(
        Enrollment.objects.filter(pk=enrollment.pk, state=Enrollment.State.ACTIVE).update(
            state=Enrollment.State.PAUSED, updated_at=timezone.now()
        )
    )


def enrollment_resume(*, enrollment: Enrollment) -> bool:
    """An enrollment picks up where it paused; a step that came due meanwhile goes now, and
    a step that was queued before the pause goes too."""
    now = timezone.now()
    with transaction.atomic():
        resumed = Enrollment.objects.filter(
            pk=enrollment.pk, state=Enrollment.State.PAUSED, next_step__isnull=False
        ).update(state=Enrollment.State.ACTIVE, updated_at=now)
        if not resumed:
            # Paused after its last step went: nothing left to send.
            Enrollment.objects.filter(
                pk=enrollment.pk, state=Enrollment.State.PAUSED, next_step__isnull=True
            ).update(state=Enrollment.State.FINISHED, updated_at=now)
            return False
        if Enrollment.objects.filter(pk=enrollment.pk, next_due_at__lte=now).exists():
            _campaign_steps_kick()
        waiting = OutboundEmail.objects.filter(
            enrollment_id=enrollment.pk, status__in=OutboundEmail.PENDING_STATUSES
        ).values_list("channel_id", flat=True)
        for channel_id in set(waiting):
            if channel_id:
                channel_queue_kick(channel_id=channel_id)
    return True


def _campaign_steps_kick() -> None:
    """A step is due right now (a first step without delay, a resumed enrollment whose step
    came due while paused): run the campaign task once this commits instead of leaving the
    email for the next periodic run, up to a minute later. The periodic run stays the safety
    net; the task is safe to run twice."""
    from .tasks import campaign_steps_send_due

    transaction.on_commit(campaign_steps_send_due.delay)


def _next_step(step: CampaignStep) -> CampaignStep | None:
    return (
        CampaignStep.objects.filter(campaign_id=step.campaign_id, position__gt=step.position)
        .order_by("position")
        .first()
    )


def _campaign_email(enrollment: Enrollment, now: datetime) -> OutboundEmail:
    step = enrollment.next_step
    sender = enrollment.sender
    prospect = enrollment.prospect
    rendered = render(
        subject=step.template.subject,
        body=step.template.body,
        body_html=step.template.body_html,
        values=merge_values(prospect=prospect, sender=sender),
    )
    body, body_html = signature_append(
        body=rendered.body, body_html=rendered.body_html, signature=sender.signature
    )
    try:
        channel = email_channel_resolve(sender=sender, source=OutboundEmail.Source.WEB)
        waiting_reason = ""
    except NoUsableChannel as exc:
        channel, waiting_reason = None, exc.reason
    return OutboundEmail(
        organization_id=enrollment.campaign.organization_id,
        sender=sender,
        prospect=prospect,
        to_address=prospect.email,
        subject=rendered.subject,
        body=body,
        body_html=body_html,
        template=step.template,
        campaign_step=step,
        enrollment=enrollment,
        source=OutboundEmail.Source.WEB,
        status=Status.QUEUED,
        priority=OutboundEmail.Priority.CAMPAIGN,
        channel=channel,
        channel_kind=channel.kind if channel else "",
        message_id=message_id_new(
            sender_address=(channel.mailbox_address if channel else "") or sender.email
        ),
        queued_at=now,
        next_attempt_at=now,
        waiting_reason=waiting_reason,
    )


def _prospect_mark_unsendable(prospect: Prospect, *, reason: str, now: datetime) -> None:
    Prospect.objects.filter(pk=prospect.pk).update(
        email_status=Prospect.EmailStatus.INVALID,
        invalid_reason=reason[:500],
        invalidated_at=now,
        updated_at=now,
    )


def _campaign_step_skip(
    enrollment: Enrollment,
    *,
    now: datetime,
    reason: str,
    state: str = Enrollment.State.STOPPED_SUPPRESSED,
) -> None:
    """The prospect is on the suppression list (or its address cannot be sent to): the step is
    not sent, the outbox shows it cancelled with the reason, and the enrollment stops there."""
    exists = OutboundEmail.objects.filter(
        enrollment=enrollment, campaign_step=enrollment.next_step
    ).exists()
    if not exists:
        email = _campaign_email(enrollment, now)
        email.status = Status.CANCELLED
        email.next_attempt_at = None
        email.waiting_reason = ""
        email.failure_reason = f"Not sent: {reason}"[:1000]
        email.save()
    enrollment.state = state
    enrollment.next_step, enrollment.next_due_at, enrollment.stopped_at = None, None, now
    enrollment.save(update_fields=["state", "next_step", "next_due_at", "stopped_at", "updated_at"])


def _campaign_step_hold(enrollment: Enrollment, *, reason: str) -> None:
    """The step's template cannot be filled in (an unknown field, an unclosed `{{`, saved
    before the check or in the admin): this enrollment is paused, not the whole run, and the
    sender is told in the feed; after the template is fixed, resuming sends the step."""
    enrollment.state = Enrollment.State.PAUSED
    enrollment.save(update_fields=["state", "updated_at"])
    feed_event_record(
        user=enrollment.sender,
        kind=FeedEvent.Kind.FAILED,
        title=feed_text(
            "campaign_hold",
            campaign=enrollment.campaign.name,
            address=enrollment.prospect.email,
        ),
        detail=[
            feed_text(
                "campaign_hold.detail",
                template=enrollment.next_step.template.name,
                reason_text=reason,
            )
        ],
        dedupe_key=f"campaign-hold:{enrollment.pk}:{enrollment.next_step_id}",
    )


def campaign_steps_enqueue_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The periodic campaign task: every active enrollment whose next step is due gets that
    step's email queued and moves on to the following step (or finishes). Two runs at once
    take different enrollments (SKIP LOCKED), and an enrollment's step is queued at most once
    (a unique constraint), so running it twice is harmless. Returns how many were queued."""
    now = now or timezone.now()
    channel_ids: set[int] = set()
    queued = 0
    with transaction.atomic():
        due = list(
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                state=Enrollment.State.ACTIVE,
                next_due_at__lte=now,
                campaign__status=Campaign.Status.ACTIVE,
            )
            .select_related("next_step__template", "prospect", "sender__organization", "campaign")
            .order_by("next_due_at")[:limit]
        )
        suppressed = {}
        for organization_id in {enrollment.campaign.organization_id for enrollment in due}:
            found = suppressions_find(
                organization_id=organization_id,
                addresses=[
                    e.prospect.email for e in due if e.campaign.organization_id == organization_id
                ],
            )
            suppressed |= {(organization_id, address): entry for address, entry in found.items()}
        for enrollment in due:
            step = enrollment.next_step
            entry = suppressed.get(
                (enrollment.campaign.organization_id, enrollment.prospect.email.strip().lower())
            )
            if entry is not None:
                _campaign_step_skip(
                    enrollment, now=now, reason=suppression_reason_text(entry=entry)
                )
                continue
            if enrollment.prospect.email_status != Prospect.EmailStatus.VALID:
                enrollment.state = Enrollment.State.STOPPED_BOUNCED
                enrollment.next_step, enrollment.next_due_at, enrollment.stopped_at = (
                    None,
                    None,
                    now,
                )
                enrollment.save(
                    update_fields=["state", "next_step", "next_due_at", "stopped_at", "updated_at"]
                )
                continue
            if problem := address_problem(enrollment.prospect.email):
                # Stored before addresses were checked: the step is not sent, the outbox and
                # the prospect say why, and this enrollment stops.
                _prospect_mark_unsendable(enrollment.prospect, reason=problem, now=now)
                _campaign_step_skip(
                    enrollment, now=now, reason=problem, state=Enrollment.State.STOPPED_BOUNCED
                )
                continue
            if problem := sender_name_problem(enrollment.sender):
                _campaign_step_hold(enrollment, reason=problem)
                continue
            exists = OutboundEmail.objects.filter(enrollment=enrollment, campaign_step=step)
            if not exists.exists():
                try:
                    email = _campaign_email(enrollment, now)
                except MergeError as exc:
                    _campaign_step_hold(enrollment, reason=exc.message)
                    continue
                email.save()
                queued += 1
                if email.channel_id:
                    channel_ids.add(email.channel_id)
            following = _next_step(step)
            if following is None:
                enrollment.state = Enrollment.State.FINISHED
                enrollment.next_step, enrollment.next_due_at = None, None
            else:
                enrollment.next_step = following
                enrollment.next_due_at = now + following.delay
            enrollment.save(update_fields=["state", "next_step", "next_due_at", "updated_at"])
        for channel_id in channel_ids:
            channel_queue_kick(channel_id=channel_id, now=now)
    return queued


# --- API tokens ----------------------------------------------------------------------------------

API_TOKEN_PREFIX = "mr_"  # noqa: S105 - a public marker, not a secret


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal API token. The raw token is returned once and never stored."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name.strip() or "Plug-in", prefix=raw[:10], key_hash=_token_hash(raw)
    )
    token.full_clean(exclude=["user"])
    token.save()
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), updated_at=timezone.now()
    )


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user a raw token belongs to, or None. Records when it was last used."""
    if not raw.startswith(API_TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user__organization")
        .filter(key_hash=_token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
    ).update(last_used_at=now)
    return token.user
