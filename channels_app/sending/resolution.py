"""Which channel an email goes out through, decided again at send time (README, "Connecting a
channel")."""

from django.utils.translation import gettext_noop

from accounts.models import User
from channels_app.models import DeliveryChannel
from channels_app.selectors import channel_for_user, channel_get_for_kind
from outreach.models import OutboundEmail

Kind = DeliveryChannel.Kind
Source = OutboundEmail.Source


class NoUsableChannel(Exception):
    """Nothing to send through; `reason` tells the person what to connect, in English (an
    email waiting for a channel stores it): pages show gettext(reason)."""

    def __init__(self, reason: str, *, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


# The plug-in rule: what a plug-in submits goes through that plug-in's mailbox, or not at all.
PLUGIN_KINDS: dict[str, tuple[str, ...]] = {
    Source.GMAIL_PLUGIN: (Kind.GMAIL,),
    Source.OUTLOOK_PLUGIN: (Kind.EXCHANGE_ONLINE, Kind.EXCHANGE_ONPREM),
}


def email_channel_resolve(*, sender: User, source: str) -> DeliveryChannel:
    """The channel for an email of `source` sent by `sender`. A mailbox that needs reconnecting
    is still returned (its mail waits; it is never rerouted). Raises NoUsableChannel."""
    kinds = PLUGIN_KINDS.get(source)
    if kinds is not None:
        for kind in kinds:
            channel = channel_get_for_kind(user=sender, kind=kind)
            if channel is not None:
                return channel
        if source == Source.GMAIL_PLUGIN:
            raise NoUsableChannel(
                gettext_noop(
                    "Your Gmail mailbox is not connected to Mailroom. Connect Gmail in "
                    "Mailroom's email settings to send from the Gmail plug-in."
                ),
                code="gmail_not_connected",
            )
        raise NoUsableChannel(
            gettext_noop(
                "Your Outlook (Exchange) mailbox is not connected to Mailroom. Connect Outlook "
                "in Mailroom's email settings to send from the Outlook plug-in."
            ),
            code="exchange_not_connected",
        )
    channel = channel_for_user(user=sender)
    if channel is None:
        raise NoUsableChannel(
            gettext_noop("Connect Gmail or Outlook to unlock sending."),
            code="no_channel_connected",
        )
    return channel
