from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from .models import OutboundEmail
from .selectors import (
    campaign_list,
    outbound_email_counts,
    outbound_email_list,
    prospect_list,
    template_list,
)


@login_required
def prospects(request):
    search = request.GET.get("q", "").strip()
    page = Paginator(prospect_list(user=request.user, search=search), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "outreach/prospects.html", {"page": page, "search": search})


@login_required
def prospect_detail(request, pk: int):
    prospect = get_object_or_404(prospect_list(user=request.user), pk=pk)
    emails = outbound_email_list(user=request.user).filter(prospect=prospect)[:50]
    return render(
        request, "outreach/prospect_detail.html", {"prospect": prospect, "emails": emails}
    )


@login_required
def templates(request):
    return render(
        request, "outreach/templates.html", {"templates": template_list(user=request.user)}
    )


@login_required
def template_detail(request, pk: int):
    template = get_object_or_404(template_list(user=request.user), pk=pk)
    return render(request, "outreach/template_detail.html", {"template": template})


@login_required
def campaigns(request):
    return render(
        request, "outreach/campaigns.html", {"campaigns": campaign_list(user=request.user)}
    )


@login_required
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=pk)
    steps = campaign.steps.select_related("template").order_by("position")
    return render(request, "outreach/campaign_detail.html", {"campaign": campaign, "steps": steps})


@login_required
def outbox(request):
    status = request.GET.get("status") or None
    if status not in OutboundEmail.Status.values:
        status = None
    emails = outbound_email_list(user=request.user, status=status).order_by("-created_at")
    page = Paginator(emails, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "outreach/outbox.html",
        {
            "page": page,
            "status": status,
            "statuses": OutboundEmail.Status.choices,
            "counts": outbound_email_counts(user=request.user),
        },
    )
