"""The suppression page (organization admins): the list, search, add, remove, the policy; the
public one-click unsubscribe page; the rep's confirmation of a reply asking to be removed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Organization
from analytics.feed import feed_event_mark_read, feed_event_record, feed_text
from analytics.models import FeedEvent
from bounces.models import InboxMessage
from core.languages import recipient_language
from outreach.effects import address_unsubscribe
from outreach.models import OutboundEmail

from .forms import SuppressionAddForm, SuppressionPolicyForm, SuppressionRemoveForm
from .links import unsubscribe_link_read
from .selectors import (
    complaint_rate,
    suppression_find,
    suppression_list,
    suppression_policy,
    unsubscribe_link_replayed,
)
from .services import suppression_add, suppression_policy_update, suppression_remove


def _require_admin(request) -> None:
    if not request.user.is_org_admin or request.user.organization_id is None:
        raise PermissionDenied(
            gettext("Only your organization's admins manage the suppression list.")
        )


@login_required
def suppressions(request):
    _require_admin(request)
    user = request.user
    search = request.GET.get("q", "").strip()
    include_removed = request.GET.get("removed") == "1"
    add_form = SuppressionAddForm(request.POST or None)
    if request.method == "POST" and add_form.is_valid():
        data = add_form.cleaned_data
        try:
            entry, created = suppression_add(
                organization_id=user.organization_id,
                value=data["value"],
                reason=data["reason"],
                detail=data["detail"],
                created_by=user,
            )
        except ValidationError as exc:
            add_form.add_error("value", " ".join(exc.messages))
        else:
            if created:
                messages.success(
                    request,
                    gettext("Suppressed %(address)s: nothing goes to it now.")
                    % {"address": entry.address},
                )
            else:
                messages.info(
                    request,
                    gettext("%(address)s was already suppressed.") % {"address": entry.address},
                )
            return redirect("suppressions")
    policy = suppression_policy(organization_id=user.organization_id)
    page = Paginator(
        suppression_list(user=user, search=search, include_removed=include_removed), 50
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "suppression/suppressions.html",
        {
            "page": page,
            "search": search,
            "include_removed": include_removed,
            "add_form": add_form,
            "remove_form": SuppressionRemoveForm(),
            "policy": policy,
            "policy_form": SuppressionPolicyForm(instance=policy),
            "complaints": complaint_rate(
                organization_id=user.organization_id,
                limit_percent=float(policy.complaint_rate_limit),
            ),
        },
    )


@login_required
@require_POST
def suppression_delete(request, pk: int):
    _require_admin(request)
    entry = get_object_or_404(suppression_list(user=request.user), pk=pk)
    form = SuppressionRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            gettext("Say why %(address)s may be emailed again.") % {"address": entry.address},
        )
        return redirect("suppressions")
    suppression_remove(entry=entry, user=request.user, reason=form.cleaned_data["reason"])
    messages.success(
        request,
        gettext("Removed %(address)s from the suppression list.") % {"address": entry.address},
    )
    return redirect("suppressions")


@login_required
@require_POST
def suppression_policy_edit(request):
    _require_admin(request)
    policy = suppression_policy(organization_id=request.user.organization_id)
    form = SuppressionPolicyForm(request.POST, instance=policy)
    if not form.is_valid():
        messages.error(request, gettext("Thresholds are whole numbers of at least 1."))
        return redirect("suppressions")
    try:
        suppression_policy_update(
            organization=request.user.organization, user=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Saved the suppression settings."))
    return redirect("suppressions")


# --- the public unsubscribe page (no login) ------------------------------------------------


# RFC 8058: the mailbox provider POSTs without a session or CSRF token; the signed token is the
# proof, and this is the one view exempt from CSRF.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a confirm button; POST (the button, or the provider's one-click POST with
    `List-Unsubscribe=One-Click`) suppresses the address and stops its campaigns. Idempotent.
    A forged or altered link, or a replay after an admin lifted the suppression, does nothing
    and says so."""
    link = unsubscribe_link_read(token=token)
    if link is None:
        return render(request, "suppression/unsubscribe.html", {"state": "invalid"}, status=400)
    organization = Organization.objects.filter(pk=link.organization_id).first()
    with translation.override(recipient_language(request, organization=organization)):
        return _unsubscribe(request, link, token)


def _unsubscribe(request, link, token: str):
    context = {"address": link.address, "token": token}
    org = link.organization_id
    if suppression_find(organization_id=org, address=link.address) is not None:
        return render(request, "suppression/unsubscribe.html", {**context, "state": "already"})
    if unsubscribe_link_replayed(
        organization_id=org, address=link.address, issued_at=link.issued_at
    ):
        return render(request, "suppression/unsubscribe.html", {**context, "state": "replayed"})
    if request.method == "GET":
        return render(request, "suppression/unsubscribe.html", {**context, "state": "confirm"})
    email = (
        OutboundEmail.objects.filter(pk=link.email_id, organization_id=org).first()
        if link.email_id
        else None
    )
    address_unsubscribe(organization_id=org, address=link.address, source_email=email)
    if email is not None:
        feed_event_record(
            user=email.sender,
            kind=FeedEvent.Kind.UNSUBSCRIBED,
            title=feed_text("unsubscribed", address=link.address),
            detail=[feed_text("unsubscribed.link", subject=email.subject)],
            outbound_email=email,
            dedupe_key=f"unsubscribed:{org}:{link.address}",
        )
    return render(request, "suppression/unsubscribe.html", {**context, "state": "done"})


@login_required
@require_POST
def removal_confirm(request, pk: int):
    """The rep confirms a reply that asked to be removed (flagged in their feed)."""
    event = get_object_or_404(
        FeedEvent.objects.select_related("outbound_email"),
        pk=pk,
        user=request.user,
        kind=FeedEvent.Kind.REMOVAL_REQUESTED,
    )
    email = event.outbound_email
    if email is None:
        messages.error(
            request, gettext("The email this reply answered is gone; add the address by hand.")
        )
        return redirect("feed")
    reply = (
        InboxMessage.objects.filter(outbound_email=email, kind=InboxMessage.Kind.REPLY)
        .order_by("-created_at")
        .first()
    )
    entry, created = address_unsubscribe(
        organization_id=email.organization_id,
        address=email.to_address,
        source_email=email,
        source_message=reply,
        confirmed_by=request.user,
    )
    feed_event_mark_read(user=request.user, event_id=event.pk)
    if created:
        messages.success(
            request,
            gettext("%(address)s is suppressed and its campaigns are stopped.")
            % {"address": entry.address},
        )
    else:
        messages.info(
            request, gettext("%(address)s was already suppressed.") % {"address": entry.address}
        )
    return redirect("feed")
