"""The suppression page (organization admins): the list, search, add, remove, the policy."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .forms import SuppressionAddForm, SuppressionPolicyForm, SuppressionRemoveForm
from .selectors import suppression_list, suppression_policy
from .services import suppression_add, suppression_policy_update, suppression_remove


def _require_admin(request) -> None:
    if not request.user.is_org_admin or request.user.organization_id is None:
        raise PermissionDenied("Only your organization's admins manage the suppression list.")


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
                messages.success(request, f"Suppressed {entry.address}: nothing goes to it now.")
            else:
                messages.info(request, f"{entry.address} was already suppressed.")
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
        },
    )


@login_required
@require_POST
def suppression_delete(request, pk: int):
    _require_admin(request)
    entry = get_object_or_404(suppression_list(user=request.user), pk=pk)
    form = SuppressionRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Say why {entry.address} may be emailed again.")
        return redirect("suppressions")
    suppression_remove(entry=entry, user=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, f"Removed {entry.address} from the suppression list.")
    return redirect("suppressions")


@login_required
@require_POST
def suppression_policy_edit(request):
    _require_admin(request)
    policy = suppression_policy(organization_id=request.user.organization_id)
    form = SuppressionPolicyForm(request.POST, instance=policy)
    if not form.is_valid():
        messages.error(request, "Thresholds are whole numbers of at least 1.")
        return redirect("suppressions")
    try:
        suppression_policy_update(
            organization=request.user.organization, user=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Saved the suppression settings.")
    return redirect("suppressions")
