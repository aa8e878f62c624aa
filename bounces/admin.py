from email import message_from_bytes
from email.policy import default as default_policy

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from core.admin import ScopedModelAdmin

from .models import Bounce, EspEvent, InboxMessage, MailboxPause
from .parsing import vocabulary
from .polling import inbox_messages_reprocess
from .selectors import inbox_messages_unreadable_q
from .services import channel_campaigns_resume
from .webhooks import esp_event_process

RAW_DISPLAY_LIMIT = 200_000


class MatchedFilter(admin.SimpleListFilter):
    title = _("matched")
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", _("Matched to an email")), ("no", _("Unmatched"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(outbound_email__isnull=False)
        if self.value() == "no":
            return queryset.filter(outbound_email__isnull=True)
        return queryset


class HardSoftFilter(admin.SimpleListFilter):
    title = _("hard / soft")
    parameter_name = "hardness"

    def lookups(self, request, model_admin):
        return [
            ("hard", pgettext_lazy("bounce", "Hard")),
            ("soft", pgettext_lazy("bounce", "Soft")),
            ("delayed", pgettext_lazy("bounce", "Delayed")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "hard":
            return queryset.filter(is_hard=True)
        if self.value() == "soft":
            return queryset.filter(is_hard=False, is_delayed=False)
        if self.value() == "delayed":
            return queryset.filter(is_delayed=True)
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return list(vocabulary.REASONS.items())

    def queryset(self, request, queryset):
        if self.value() in vocabulary.REASONS:
            return queryset.filter(reason=self.value())
        return queryset


def raw_message_text(raw) -> str:
    """The message as a person reads it: headers and every text part decoded (charset,
    base64, quoted-printable), not the wire form."""
    if not raw:
        return ""
    data = bytes(raw)[:RAW_DISPLAY_LIMIT]
    try:
        message = message_from_bytes(data, policy=default_policy)
        lines = [f"{name}: {value}" for name, value in message.items()]
        for part in message.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            lines.append(f"\n--- {kind} ---")
            if kind.startswith("text/") or kind.startswith("message/"):
                try:
                    lines.append(str(part.get_content()))
                except (LookupError, UnicodeError, ValueError, KeyError, AssertionError):
                    lines.append(part.get_payload(decode=True).decode("utf-8", "replace"))
            else:
                lines.append(f"({len(part.get_payload(decode=True) or b'')} bytes not shown)")
        return "\n".join(lines)
    except Exception:  # noqa: BLE001 — a broken message is still shown, undecoded
        return data.decode("utf-8", "replace")


def _raw_block(raw):
    text = raw_message_text(raw)
    if not text:
        return "—"
    return format_html(
        '<pre style="white-space: pre-wrap; max-height: 40rem; overflow: auto">{}</pre>', text
    )


@admin.register(Bounce)
class BounceAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = [
        "recipient",
        "status_code",
        "reason_words",
        "hardness",
        "matched_by",
        "source",
        "channel",
        "outbound_email",
        "organization",
        "occurred_at",
    ]
    list_filter = [
        HardSoftFilter,
        ReasonFilter,
        MatchedFilter,
        "matched_by",
        "source",
        "channel__kind",
        ("channel", admin.RelatedOnlyFieldListFilter),
        "organization",
        "occurred_at",
    ]
    search_fields = ["recipient", "diagnostic", "status_code", "channel__mailbox_address"]
    raw_id_fields = ["channel", "inbox_message", "outbound_email"]
    date_hierarchy = "occurred_at"
    list_select_related = ["channel", "outbound_email", "organization"]
    readonly_fields = ["notification"]

    @admin.display(description=_("reason"), ordering="reason")
    def reason_words(self, obj: Bounce) -> str:
        return vocabulary.label(obj.reason) or "—"

    @admin.display(description=_("kind"))
    def hardness(self, obj: Bounce) -> str:
        if obj.is_delayed:
            return pgettext_lazy("bounce", "delayed")
        return pgettext_lazy("bounce", "hard") if obj.is_hard else pgettext_lazy("bounce", "soft")

    @admin.display(description=_("Bounce message (decoded)"))
    def notification(self, obj: Bounce):
        return _raw_block(obj.inbox_message.raw if obj.inbox_message_id else None)

    def has_add_permission(self, request):
        return False  # a record of what happened, made by the poller or the send pipeline

    def has_change_permission(self, request, obj=None):
        return False


class ProcessingFilter(admin.SimpleListFilter):
    title = _("processing")
    parameter_name = "processing"

    def lookups(self, request, model_admin):
        return [
            ("done", _("Processed")),
            ("pending", _("Waiting to be processed")),
            ("unreadable", _("Unreadable messages (failed, retrying)")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "done":
            return queryset.filter(processed_at__isnull=False)
        if self.value() == "pending":
            return queryset.filter(processed_at__isnull=True, last_error="")
        if self.value() == "unreadable":
            return queryset.filter(inbox_messages_unreadable_q())
        return queryset


@admin.register(InboxMessage)
class InboxMessageAdmin(ScopedModelAdmin):
    organization_path = "channel__organization"
    list_display = [
        "subject",
        "from_address",
        "kind",
        "channel",
        "received_at",
        "processed_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = [ProcessingFilter, "kind", "channel__kind"]
    search_fields = ["subject", "from_address", "internet_message_id", "provider_message_id"]
    raw_id_fields = ["channel", "outbound_email"]
    list_select_related = ["channel"]
    exclude = ["raw"]
    readonly_fields = ["decoded_message"]
    actions = ["reprocess"]

    @admin.action(description=_("Reprocess the selected messages now (after a fix)"))
    def reprocess(self, request, queryset):
        report = inbox_messages_reprocess(message_ids=queryset.values_list("pk", flat=True))
        level = messages.WARNING if report.still_failing else messages.SUCCESS
        self.message_user(
            request,
            gettext(
                "Processed %(processed)s message(s); %(failing)s still failing (kept with their "
                "error, retried later)."
            )
            % {"processed": report.processed, "failing": report.still_failing},
            level,
        )

    @admin.display(description=_("Message (decoded)"))
    def decoded_message(self, obj: InboxMessage):
        return _raw_block(obj.raw)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MailboxPause)
class MailboxPauseAdmin(ScopedModelAdmin):
    organization_path = "channel__organization"
    list_display = ["channel", "paused_at", "hard_bounces", "sent", "resumed_at", "resumed_by"]
    list_filter = ["resumed_at", "channel__kind"]
    search_fields = ["channel__mailbox_address", "reason"]
    raw_id_fields = ["channel", "resumed_by"]
    actions = ["resume"]

    @admin.action(description=_("Resume campaign sends of the selected mailboxes"))
    def resume(self, request, queryset):
        resumed = 0
        for pause in queryset.filter(resumed_at__isnull=True).select_related("channel"):
            try:
                resumed += channel_campaigns_resume(channel=pause.channel, user=request.user)
            except PermissionDenied as error:
                messages.error(request, f"{pause.channel}: {error}")
        messages.success(
            request,
            ngettext("Resumed %(count)s mailbox.", "Resumed %(count)s mailboxes.", resumed)
            % {"count": resumed},
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EspEventProcessingFilter(admin.SimpleListFilter):
    title = _("processing")
    parameter_name = "processing"

    def lookups(self, request, model_admin):
        return [("done", _("Processed")), ("failing", _("Failed to process (retrying)"))]

    def queryset(self, request, queryset):
        if self.value() == "done":
            return queryset.filter(processed_at__isnull=False)
        if self.value() == "failing":
            return queryset.filter(processed_at__isnull=True)
        return queryset


@admin.register(EspEvent)
class EspEventAdmin(ScopedModelAdmin):
    """What ESP webhooks reported; the failing ones are kept with their error and retried."""

    organization_path = "channel__organization"
    list_display = [
        "kind",
        "recipient",
        "esp",
        "channel",
        "occurred_at",
        "processed_at",
        "attempts",
        "last_error",
    ]
    list_filter = [EspEventProcessingFilter, "kind", "esp"]
    search_fields = ["recipient", "event_id"]
    raw_id_fields = ["channel", "outbound_email"]
    list_select_related = ["channel"]
    actions = ["reprocess"]

    @admin.action(description=_("Process the selected events again now (after a fix)"))
    def reprocess(self, request, queryset):
        pending = list(queryset.filter(processed_at__isnull=True).select_related("channel"))
        worked = sum(esp_event_process(event=event) for event in pending)
        level = messages.WARNING if worked < len(pending) else messages.SUCCESS
        self.message_user(
            request,
            gettext(
                "Processed %(worked)s of %(total)s event(s); the rest keep their error and are "
                "retried."
            )
            % {"worked": worked, "total": len(pending)},
            level,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
