from django.db import models
from django.utils.translation import gettext_lazy as _


class MailboxSendState(models.Model):
    """One row per delivery channel: the row a worker locks while it decides how many emails
    the mailbox may send now (so the limit holds across processes and machines), plus the
    mailbox's own back-off after a 429 and the bookkeeping that keeps one wake-up queued."""

    channel = models.OneToOneField(
        "channels_app.DeliveryChannel",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="send_state",
        verbose_name=_("channel"),
    )
    backoff_until = models.DateTimeField(null=True, blank=True, verbose_name=_("backoff until"))
    backoff_reason = models.CharField(max_length=500, blank=True, verbose_name=_("backoff reason"))
    kicked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A drain task was queued then and has not started yet.",
        verbose_name=_("kicked at"),
    )
    next_drain_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A drain task is scheduled for then (a send window).",
        verbose_name=_("next drain at"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    def __str__(self) -> str:
        return f"send state of channel {self.channel_id}"


class SendSlot(models.Model):
    """The throttle ledger: one row per message a mailbox was allowed to send, at the time it
    was allowed. Counting rows in a trailing window gives a true sliding window (Gmail's
    rolling 24 hours), whichever worker sent them."""

    id = models.BigAutoField(primary_key=True, verbose_name=_("ID"))
    channel = models.ForeignKey(
        "channels_app.DeliveryChannel",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("channel"),
    )
    taken_at = models.DateTimeField(verbose_name=_("taken at"))

    class Meta:
        indexes = [models.Index(fields=["channel", "taken_at"], name="send_slot_window")]

    def __str__(self) -> str:
        return f"slot {self.channel_id} @ {self.taken_at:%Y-%m-%d %H:%M:%S}"
