from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from .polling import SYNC_OVERDUE_AFTER, channel_poll_request
from .selectors import (
    bounce_list,
    channel_for_action,
    paused_channel_list,
    polled_channel_list,
    user_sees_unmatched_bounces,
)
from .services import channel_campaigns_resume, channel_can_resume_campaigns

TABS = ("bounced", "unmatched", "mailboxes")


@login_required
def bounces(request):
    user = request.user
    can_see_unmatched = user_sees_unmatched_bounces(user=user)
    tab = request.GET.get("tab", "bounced")
    if tab not in TABS or (tab == "unmatched" and not can_see_unmatched):
        tab = "bounced"
    hardness = request.GET.get("hardness", "")
    if hardness not in ("hard", "soft"):
        hardness = ""
    context = {
        "tab": tab,
        "hardness": hardness,
        "can_see_unmatched": can_see_unmatched,
        "paused_channels": [
            (channel, channel_can_resume_campaigns(channel=channel, user=user))
            for channel in paused_channel_list(user=user)
        ],
        "matched_count": bounce_list(user=user).count(),
        "unmatched_count": bounce_list(user=user, matched=False).count()
        if can_see_unmatched
        else 0,
    }
    if tab == "mailboxes":
        context["channels"] = polled_channel_list(user=user)
        context["overdue_before"] = timezone.now() - SYNC_OVERDUE_AFTER
    else:
        rows = bounce_list(user=user, matched=tab == "bounced", hardness=hardness)
        context["page"] = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "bounces/bounces.html", context)


@login_required
@require_POST
def channel_resume(request, pk: int):
    channel = channel_for_action(user=request.user, channel_id=pk)
    if channel is None or not channel_can_resume_campaigns(channel=channel, user=request.user):
        raise Http404
    if channel_campaigns_resume(channel=channel, user=request.user):
        messages.success(
            request,
            gettext("Campaign sends from %(mailbox)s resumed.")
            % {"mailbox": channel.mailbox_address},
        )
    return redirect("bounces")


@login_required
@require_POST
def channel_poll_now(request, pk: int):
    channel = channel_for_action(user=request.user, channel_id=pk)
    if channel is None:
        raise Http404
    if channel_poll_request(channel=channel):
        messages.success(
            request,
            gettext("Checking %(mailbox)s for bounces now; refresh in a moment.")
            % {"mailbox": channel.mailbox_address or channel.imap_username},
        )
    else:
        messages.warning(
            request,
            gettext("%(channel)s is not connected: reconnect it first.") % {"channel": channel},
        )
    return redirect(f"{reverse('bounces')}?tab=mailboxes")
