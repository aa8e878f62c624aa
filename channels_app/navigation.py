"""The every-page banner about the user's delivery channels (settings.MAILROOM_NAVIGATION_CONTEXT):
a mailbox that needs reconnecting, or no channel to send through at all. One indexed query."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext

from .models import DeliveryChannel
from .providers.microsoft_errors import error_and_support_code
from .selectors import channel_banner_rows

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status
CONNECT_LABEL = {Kind.GMAIL: "Gmail", Kind.EXCHANGE_ONLINE: "Outlook"}


def channel_banners(request) -> dict:
    user = request.user
    if user.organization_id is None:
        return {"channel_banners": []}
    rows = channel_banner_rows(user=user)
    banners = []
    for row in rows:
        if row["owner_id"] == user.pk and row["status"] == Status.NEEDS_RECONNECT:
            label = CONNECT_LABEL.get(row["kind"]) or Kind(row["kind"]).label
            address = f" ({row['mailbox_address']})" if row["mailbox_address"] else ""
            words, support_code = error_and_support_code(row["last_error"])
            banners.append(
                {
                    "level": "error",
                    "text": gettext(
                        "%(channel)s needs reconnecting: sending from it is paused and your "
                        "email is waiting. %(error)s"
                    )
                    % {"channel": f"{label}{address}", "error": words},
                    "support_code": support_code,
                    "action_url": reverse("channel_reconnect", args=[row["id"]]),
                    "action_label": gettext("Reconnect"),
                }
            )
    team_smtp_down = [
        row for row in rows if row["owner_id"] is None and row["status"] == Status.NEEDS_RECONNECT
    ]
    if team_smtp_down and user.is_org_admin:
        words, support_code = error_and_support_code(team_smtp_down[0]["last_error"])
        banners.append(
            {
                "level": "error",
                "text": gettext("The team SMTP server refused Mailroom's login: %(error)s")
                % {"error": words or gettext("update its credentials.")},
                "support_code": support_code,
                "action_url": reverse("email_settings") + "#team-smtp",
                "action_label": gettext("Update team SMTP"),
            }
        )
    has_channel = any(row["status"] != Status.DISCONNECTED for row in rows)
    # The email settings pages say it in full already.
    url_name = (request.resolver_match.url_name or "") if request.resolver_match else ""
    on_settings_page = url_name == "email_settings" or url_name.startswith("channel_")
    if not has_channel and not on_settings_page:
        banners.append(
            {
                "level": "info",
                "text": gettext("Connect Gmail or Outlook to unlock sending."),
                "action_url": reverse("email_settings"),
                "action_label": gettext("Email settings"),
            }
        )
    return {"channel_banners": banners}
