import csv
import io
from itertools import islice

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from accounts.selectors import user_list_visible
from channels_app.sending.limits import queue_estimates
from channels_app.sending.resolution import NoUsableChannel, email_channel_resolve
from core.http import param_id
from suppression.selectors import RecipientSuppressed, suppressed_address_q

from .forms import (
    RECIPIENT_MATCHES,
    ApiTokenForm,
    CampaignForm,
    ComposeForm,
    EnrollForm,
    ProspectForm,
    ProspectImportMappingForm,
    ProspectImportUploadForm,
    ProspectsEnrollForm,
    SignatureForm,
    StepForm,
    TemplateForm,
    recipient_label,
)
from .html_body import signature_append, tags_in_text
from .imports import prospect_import_confirm, prospect_import_start
from .merge import FIELDS, MergeError, merge_values
from .merge import render as merge_render
from .models import Campaign, CampaignStep, Enrollment, OutboundEmail, Prospect, ProspectImport
from .selectors import (
    OUTBOX_TABS,
    PROSPECT_SORTS,
    SUPPRESSED,
    api_token_list,
    campaign_list,
    campaign_list_with_counts,
    campaign_steps_due_count,
    email_waiting_reason,
    enrollment_list,
    outbound_email_list,
    outbox_failed_by_channel,
    outbox_mailbox_notices,
    outbox_page,
    outbox_tab_counts,
    prospect_companies,
    prospect_delete_effects,
    prospect_import_list,
    prospect_list,
    template_list,
    template_list_editable,
)
from .services import (
    api_token_create,
    api_token_revoke,
    campaign_create,
    campaign_status_set,
    campaign_step_add,
    campaign_step_move,
    campaign_step_remove,
    campaign_step_update,
    email_cancel,
    email_compose,
    email_retry,
    emails_cancel,
    emails_retry,
    enrollment_pause,
    enrollment_resume,
    enrollments_create,
    prospect_create,
    prospect_delete,
    prospect_update,
    template_content,
    template_create,
    template_delete,
    template_duplicate,
    template_update,
    user_signature_update,
)

Status = OutboundEmail.Status


def _prospect_filters(params) -> dict:
    """The prospects list's search, filters (address, owner, company) and sort, as the page,
    its export and "Enroll all N matching" read them (anything unknown ignored; an owner
    outside the user's scope matches nobody, the list being scoped first)."""
    address = params.get("address", "")
    sort = params.get("sort", "")
    return {
        "search": params.get("q", "").strip(),
        "address": address if address in (*Prospect.EmailStatus.values, SUPPRESSED) else "",
        "sort": sort if sort.lstrip("-") in PROSPECT_SORTS else "",
        "owner_id": param_id(params, "owner"),
        "company": params.get("company", "").strip()[:200],
    }


@login_required
def prospects(request):
    filters = _prospect_filters(request.GET)
    listing = prospect_list(user=request.user, **filters)
    page = Paginator(listing, 50).get_page(request.GET.get("page"))
    owners = user_list_visible(user=request.user).order_by("first_name", "last_name", "email")
    return render(
        request,
        "outreach/prospects.html",
        {
            "page": page,
            **filters,
            "filtered": any(filters[k] for k in ("search", "address", "owner_id", "company")),
            "owners": None if request.user.is_rep else owners,
            "companies": prospect_companies(user=request.user),
            "address_choices": [
                ("", gettext("All addresses")),
                *Prospect.EmailStatus.choices,
                (SUPPRESSED, gettext("On the suppression list")),
            ],
            "export_query": request.GET.urlencode(),
            "campaigns": campaign_list(user=request.user).exclude(status=Campaign.Status.ARCHIVED),
        },
    )


# Cells a spreadsheet would run as a formula when the export is opened.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def prospects_export(request):
    """The prospects list as a CSV, with the page's search, filter and sort."""
    listing = prospect_list(user=request.user, **_prospect_filters(request.GET))
    writer = csv.writer(_Echo())
    header = ["email", "first_name", "last_name", "company", "title", "owner", "address"]

    def rows():
        yield "\ufeff" + writer.writerow([*header, "invalid_reason"])
        for p in listing.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _spreadsheet_safe(value)
                    for value in (
                        p.email,
                        p.first_name,
                        p.last_name,
                        p.company,
                        p.title,
                        p.owner.email if p.owner else "",
                        p.email_status,
                        p.invalid_reason,
                    )
                ]
            )

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="prospects-{stamp}.csv"'
    return response


def _prospect_fields(form) -> tuple[dict[str, str], object]:
    fields = {name: form.cleaned_data[name] for name in ProspectForm.Meta.fields}
    return fields, form.cleaned_data.get("owner")


def _add_field_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def prospect_new(request):
    form = ProspectForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields, owner = _prospect_fields(form)
        try:
            prospect = prospect_create(user=request.user, owner=owner, **fields)
        except ValidationError as exc:
            _add_field_errors(form, exc)
        else:
            messages.success(request, gettext("Added %(name)s.") % {"name": prospect.full_name})
            return redirect("prospect_detail", pk=prospect.pk)
    return render(request, "outreach/prospect_form.html", {"form": form, "prospect": None})


@login_required
def prospect_edit(request, pk: int):
    prospect = get_object_or_404(prospect_list(user=request.user), pk=pk)
    form = ProspectForm(request.POST or None, instance=prospect, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields, owner = _prospect_fields(form)
        try:
            prospect_update(prospect=prospect, user=request.user, owner=owner, **fields)
        except ValidationError as exc:
            _add_field_errors(form, exc)
        else:
            messages.success(request, gettext("Saved %(name)s.") % {"name": prospect.full_name})
            return redirect("prospect_detail", pk=prospect.pk)
    return render(request, "outreach/prospect_form.html", {"form": form, "prospect": prospect})


@login_required
@require_POST
def prospect_remove(request, pk: int):
    prospect = get_object_or_404(prospect_list(user=request.user), pk=pk)
    name = prospect.full_name
    prospect_delete(prospect=prospect)
    messages.success(request, gettext("Deleted %(name)s.") % {"name": name})
    return redirect("prospects")


@login_required
def prospect_detail(request, pk: int):
    prospect = get_object_or_404(prospect_list(user=request.user), pk=pk)
    emails = outbound_email_list(user=request.user).filter(prospect=prospect)[:50]
    return render(
        request,
        "outreach/prospect_detail.html",
        {
            "prospect": prospect,
            "emails": emails,
            "delete_effects": prospect_delete_effects(prospect=prospect),
        },
    )


@login_required
def prospect_import_new(request):
    form = ProspectImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            prospect_import = prospect_import_start(
                user=request.user, file_name=upload.name, raw=upload.read()
            )
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            return redirect("prospect_import", pk=prospect_import.pk)
    return render(
        request,
        "outreach/prospect_import_new.html",
        {"form": form, "imports": prospect_import_list(user=request.user)[:10]},
    )


@login_required
def prospect_import(request, pk: int):
    """One import: match its columns (before it starts), then its progress, then its report."""
    prospect_import = get_object_or_404(prospect_import_list(user=request.user), pk=pk)
    form = None
    if prospect_import.status == ProspectImport.Status.MAPPING:
        form = ProspectImportMappingForm(
            request.POST or None, prospect_import=prospect_import, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                prospect_import_confirm(
                    prospect_import=prospect_import,
                    user=request.user,
                    mapping=form.mapping(),
                    on_duplicate=form.cleaned_data["on_duplicate"],
                    owner=form.cleaned_data.get("owner") or request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                return redirect("prospect_import", pk=prospect_import.pk)
    sample = []
    if form is not None:
        sample = list(
            islice(
                csv.reader(
                    io.StringIO(prospect_import.content), delimiter=prospect_import.delimiter
                ),
                1,
                4,
            )
        )
    issues = prospect_import.issues.order_by("row_number")
    return render(
        request,
        "outreach/prospect_import.html",
        {
            "import": prospect_import,
            "form": form,
            "sample": sample,
            "issues": issues[:200],
            "issue_count": issues.count()
            if prospect_import.status == ProspectImport.Status.DONE
            else 0,
        },
    )


@login_required
def prospect_import_progress(request, pk: int):
    """What the import page polls while the file is read."""
    prospect_import = get_object_or_404(prospect_import_list(user=request.user), pk=pk)
    return JsonResponse(
        {
            "status": prospect_import.status,
            "status_label": prospect_import.get_status_display(),
            "rows_done": prospect_import.rows_done,
            "total_rows": prospect_import.total_rows,
            "percent": prospect_import.percent,
            "running": prospect_import.is_running,
        }
    )


@login_required
def prospect_import_issues(request, pk: int):
    """Every row the import did not take as it was, as a CSV: the row, what happened, why,
    then the row's own cells (fix them and import the file again)."""
    prospect_import = get_object_or_404(prospect_import_list(user=request.user), pk=pk)
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(
            ["row", "what happened", "reason", *prospect_import.headers]
        )
        for issue in prospect_import.issues.order_by("row_number").iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    issue.row_number,
                    issue.get_kind_display(),
                    issue.reason,
                    *(_spreadsheet_safe(cell) for cell in issue.values),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="import-{prospect_import.pk}-rows-to-check.csv"'
    )
    return response


@login_required
def templates(request):
    return render(
        request, "outreach/templates.html", {"templates": template_list(user=request.user)}
    )


@login_required
def template_detail(request, pk: int):
    template = get_object_or_404(template_list(user=request.user), pk=pk)
    editable = template_list_editable(user=request.user).filter(pk=pk).exists()
    return render(
        request,
        "outreach/template_detail.html",
        {"template": template, "editable": editable},
    )


def _template_editor(request, form, template):
    prospects = prospect_list(user=request.user).order_by("last_name", "first_name")[:200]
    return render(
        request,
        "outreach/template_form.html",
        {"form": form, "template": template, "fields": FIELDS, "prospects": prospects},
    )


@login_required
def template_new(request):
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = template_create(user=request.user, **form.content())
        except ValidationError as exc:
            _add_field_errors(form, exc)
        else:
            messages.success(
                request, gettext("Saved the template “%(name)s”.") % {"name": template.name}
            )
            return redirect("template_detail", pk=template.pk)
    return _template_editor(request, form, None)


@login_required
def template_edit(request, pk: int):
    template = get_object_or_404(template_list_editable(user=request.user), pk=pk)
    form = TemplateForm(request.POST or None, initial=TemplateForm.initial_for(template))
    if request.method == "POST" and form.is_valid():
        try:
            template_update(template=template, **form.content())
        except ValidationError as exc:
            _add_field_errors(form, exc)
        else:
            messages.success(
                request, gettext("Saved the template “%(name)s”.") % {"name": template.name}
            )
            return redirect("template_detail", pk=template.pk)
    return _template_editor(request, form, template)


@login_required
@require_POST
def template_copy(request, pk: int):
    template = get_object_or_404(template_list(user=request.user), pk=pk)
    copy = template_duplicate(template=template, user=request.user)
    messages.success(
        request, gettext("Made “%(name)s”, a private copy you can edit.") % {"name": copy.name}
    )
    return redirect("template_edit", pk=copy.pk)


@login_required
@require_POST
def template_remove(request, pk: int):
    template = get_object_or_404(template_list_editable(user=request.user), pk=pk)
    try:
        template_delete(template=template)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("template_detail", pk=template.pk)
    messages.success(request, gettext("Deleted the template “%(name)s”.") % {"name": template.name})
    return redirect("templates")


@login_required
@require_POST
def template_preview(request):
    """The editor's live preview: the subject and body as they would go to the chosen
    prospect, with the sender's signature, or what is wrong with the merge fields."""
    data = request.POST
    is_html = data.get("format") == "html"
    prospect = prospect_list(user=request.user).filter(pk=param_id(data, "prospect") or 0).first()
    try:
        content = template_content(
            subject=data.get("subject", ""), body=data.get("body", ""), is_html=is_html
        )
        rendered = merge_render(
            **content, values=merge_values(prospect=prospect, sender=request.user)
        )
    except ValidationError as exc:
        return JsonResponse({"ok": False, "errors": exc.message_dict})
    except MergeError as exc:
        return JsonResponse({"ok": False, "errors": {"body": [exc.message]}})
    text, html = signature_append(
        body=rendered.body, body_html=rendered.body_html, signature=request.user.signature
    )
    return JsonResponse(
        {
            "ok": True,
            "to": prospect.email if prospect else "",
            "subject": rendered.subject,
            "text": text,
            "html": html,
            "empty_fields": rendered.empty_fields if prospect else [],
        }
    )


@login_required
def profile(request):
    form = SignatureForm(request.POST or None, initial={"signature": request.user.signature})
    if request.method == "POST" and form.is_valid():
        try:
            user_signature_update(user=request.user, signature=form.cleaned_data["signature"])
        except ValidationError as exc:
            _add_field_errors(form, exc)
        else:
            messages.success(request, gettext("Saved your signature."))
            return redirect("profile")
    return render(request, "outreach/profile.html", {"form": form})


@login_required
def campaigns(request):
    return render(
        request,
        "outreach/campaigns.html",
        {"campaigns": campaign_list_with_counts(user=request.user)},
    )


@login_required
def campaign_new(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = campaign_create(user=request.user, name=form.cleaned_data["name"])
        messages.success(
            request,
            gettext("Created “%(name)s”: add its steps, then activate it.")
            % {"name": campaign.name},
        )
        return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "outreach/campaign_new.html", {"form": form})


@login_required
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=pk)
    steps = list(campaign.steps.select_related("template").order_by("position"))
    for step in steps:
        step.form = StepForm(
            user=request.user, initial=StepForm.initial_for(step), prefix=f"step{step.pk}"
        )
        step.has_emails = step.emails.exists()
    search = request.GET.get("q", "").strip()
    enroll_form = EnrollForm(user=request.user, search=search)
    candidates = enroll_form.fields["prospects"].queryset.exclude(enrollments__campaign=campaign)
    # Prospects with an invalid address are listed (so nobody wonders where they went) but
    # cannot be picked; "Enroll all N" counts only those it will enroll.
    valid = candidates.filter(email_status=Prospect.EmailStatus.VALID)
    # Suppressed addresses (unsubscribed, complained, do not contact) would be enrolled and then
    # skipped at every step: the count says so instead of promising them an email.
    suppressed_count = valid.filter(
        suppressed_address_q(organization_id=campaign.organization_id)
    ).count()
    enrollable_count = valid.count() - suppressed_count
    candidate_count = candidates.count()
    page = Paginator(enrollment_list(user=request.user, campaign=campaign), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "outreach/campaign_detail.html",
        {
            "campaign": campaign,
            "steps": steps,
            "step_form": StepForm(user=request.user, prefix="new"),
            "page": page,
            "search": search,
            "candidates": candidates[:50],
            "candidate_count": candidate_count,
            "enrollable_count": enrollable_count,
            "invalid_count": candidate_count - enrollable_count - suppressed_count,
            "suppressed_count": suppressed_count,
        },
    )


def _step_form_apply(request, form, save, done: str) -> None:
    """Save a step form through `save(template, delay)`, saying what happened either way."""
    if not form.is_valid():
        _step_form_errors(request, form)
        return
    try:
        step = save(form.cleaned_data["template"], form.delay())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done % {"position": step.position})


def _step_form_errors(request, form) -> None:
    problems = [
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        if name != "__all__"
        else " ".join(errors)
        for name, errors in form.errors.items()
    ]
    messages.error(request, " ".join(problems))


@login_required
@require_POST
def campaign_step_add_view(request, pk: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=pk)
    _step_form_apply(
        request,
        StepForm(request.POST, user=request.user, prefix="new"),
        lambda template, delay: campaign_step_add(
            campaign=campaign, template=template, delay=delay
        ),
        gettext("Added step %(position)s."),
    )
    return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#steps")


def _visible_step(request, pk: int) -> CampaignStep:
    return get_object_or_404(
        CampaignStep.objects.filter(campaign__in=campaign_list(user=request.user)).select_related(
            "campaign"
        ),
        pk=pk,
    )


@login_required
@require_POST
def campaign_step_change(request, pk: int):
    step = _visible_step(request, pk)
    action = request.POST.get("action", "save")
    if action in ("up", "down"):
        campaign_step_move(step=step, offset=-1 if action == "up" else 1)
    elif action == "remove":
        try:
            campaign_step_remove(step=step)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, gettext("Removed step %(position)s.") % {"position": step.position}
            )
    else:
        _step_form_apply(
            request,
            StepForm(request.POST, user=request.user, prefix=f"step{step.pk}"),
            lambda template, delay: campaign_step_update(step=step, template=template, delay=delay),
            gettext("Saved step %(position)s."),
        )
    return redirect(reverse("campaign_detail", args=[step.campaign_id]) + "#steps")


@login_required
@require_POST
def campaign_status(request, pk: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=pk)
    status = request.POST.get("status", "")
    try:
        campaign_status_set(campaign=campaign, status=status)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            (
                gettext("“%(name)s” is active: its steps go out as they come due.")
                if status == Campaign.Status.ACTIVE
                else gettext("Paused “%(name)s”: its steps wait, queued ones included.")
            )
            % {"name": campaign.name},
        )
    return redirect("campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def prospects_enroll(request):
    """Enroll the prospects picked on the prospects list, or all its filters match."""
    filters = _prospect_filters(request.POST)
    form = ProspectsEnrollForm(request.POST, user=request.user)
    back = reverse("prospects") + "?" + request.POST.get("back", "")
    if not form.is_valid():
        messages.error(request, gettext("Choose a campaign and the prospects to enroll."))
        return redirect(back)
    campaign = form.cleaned_data["campaign"]
    if form.cleaned_data["everyone_matching"]:
        prospects = list(prospect_list(user=request.user, **filters))
    else:
        prospects = list(form.cleaned_data["prospects"])
    if not prospects:
        messages.error(request, gettext("Tick the prospects to enroll, or enroll all matching."))
        return redirect(back)
    return _enroll(request, campaign, prospects, back, named=True)


def _enroll(request, campaign, prospects, back, *, named=False):
    try:
        result = enrollments_create(campaign=campaign, prospects=prospects, sender=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    words = {"count": result.enrolled, "name": campaign.name}
    if named:
        text = ngettext(
            "Enrolled %(count)s prospect in “%(name)s”.",
            "Enrolled %(count)s prospects in “%(name)s”.",
            result.enrolled,
        )
    else:
        text = ngettext(
            "Enrolled %(count)s prospect.", "Enrolled %(count)s prospects.", result.enrolled
        )
    parts = [text % words]
    if result.already_enrolled:
        parts.append(
            gettext("%(count)s were already in this campaign.") % {"count": result.already_enrolled}
        )
    if result.invalid_address:
        parts.append(
            gettext("%(count)s skipped: their address is invalid or on the suppression list.")
            % {"count": result.invalid_address}
        )
    if campaign.status != Campaign.Status.ACTIVE:
        parts.append(gettext("The campaign is not active yet: activate it to start sending."))
    text = " ".join(parts)
    messages.success(request, text)
    return redirect(back)


@login_required
@require_POST
def campaign_enroll(request, pk: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=pk)
    search = request.POST.get("q", "").strip()
    form = EnrollForm(request.POST, user=request.user, search=search)
    back = reverse("campaign_detail", args=[campaign.pk])
    if not form.is_valid():
        messages.error(request, gettext("Pick the prospects to enroll."))
        return redirect(back)
    if form.cleaned_data["everyone_matching"]:
        # What the button says: everyone matching who is not in the campaign yet.
        prospects = list(
            form.fields["prospects"]
            .queryset.exclude(enrollments__campaign=campaign)
            .filter(email_status=Prospect.EmailStatus.VALID)
        )
    else:
        prospects = list(form.cleaned_data["prospects"])
    if not prospects:
        messages.error(request, gettext("Pick at least one prospect to enroll."))
        return redirect(back)
    return _enroll(request, campaign, prospects, back)


def _visible_enrollment(request, pk: int) -> Enrollment:
    campaigns = campaign_list(user=request.user)
    return get_object_or_404(Enrollment.objects.filter(campaign__in=campaigns), pk=pk)


@login_required
@require_POST
def enrollment_toggle(request, pk: int):
    enrollment = _visible_enrollment(request, pk)
    if request.POST.get("action") == "pause":
        if enrollment_pause(enrollment=enrollment):
            messages.success(
                request, gettext("Paused %(address)s.") % {"address": enrollment.prospect.email}
            )
    elif enrollment_resume(enrollment=enrollment):
        messages.success(
            request, gettext("Resumed %(address)s.") % {"address": enrollment.prospect.email}
        )
    else:
        messages.warning(
            request,
            gettext("%(address)s has no step left to send.")
            % {"address": enrollment.prospect.email},
        )
    return redirect("campaign_detail", pk=enrollment.campaign_id)


@login_required
def compose(request):
    user = request.user
    data = request.POST if request.method == "POST" else None
    initial = {}
    if data is None:
        template_id, prospect_id = (
            param_id(request.GET, "template"),
            param_id(request.GET, "prospect"),
        )
        template = template_list(user=user).filter(pk=template_id or 0).first()
        prospect = prospect_list(user=user).filter(pk=prospect_id or 0).first()
        initial = {"template": template}
        if prospect is not None:
            initial |= {"prospect": prospect.pk, "to": recipient_label(prospect)}
        if template is not None:
            initial |= {"subject": template.subject, "body": template.body}
    form = ComposeForm(data, user=user, initial=initial)
    action = request.POST.get("action", "")
    preview, typed_tags = None, ""
    channel, channel_problem = None, ""
    try:
        channel = email_channel_resolve(sender=user, source=OutboundEmail.Source.WEB)
    except NoUsableChannel as exc:
        channel_problem = gettext(exc.reason)
    if data is not None and action == "load":
        template = template_list(user=user).filter(pk=param_id(data, "template") or 0).first()
        values = data.copy()
        if template is not None:
            values["subject"], values["body"] = template.subject, template.body
        form = ComposeForm(values, user=user)
        form.errors.clear()
    elif data is not None and action == "find":
        form.errors.clear()
        form.recipient_search(data.get("to", ""))
    elif data is not None and form.is_valid():
        cleaned = form.cleaned_data
        try:
            if action == "send":
                email = email_compose(
                    sender=user,
                    prospect=cleaned["prospect"],
                    template=cleaned["template"],
                    subject=cleaned["subject"],
                    body=cleaned["body"],
                    scheduled_at=cleaned["send_at"],
                )
                if email.status == OutboundEmail.Status.SCHEDULED:
                    local = timezone.localtime(email.scheduled_at, form.zone)
                    messages.success(
                        request,
                        gettext("Scheduled for %(when)s (%(zone)s) to %(address)s.")
                        % {
                            "when": f"{local:%Y-%m-%d %H:%M}",
                            "zone": form.zone.key,
                            "address": email.to_address,
                        },
                    )
                    return redirect(reverse("outbox") + "?tab=scheduled")
                messages.success(
                    request,
                    gettext("Queued to %(address)s; it goes out now.")
                    % {"address": email.to_address},
                )
                return redirect(reverse("outbox") + "?tab=waiting")
            preview = merge_render(
                subject=cleaned["subject"],
                body=cleaned["body"],
                values=merge_values(prospect=cleaned["prospect"], sender=user),
            )
            template = cleaned["template"]
            sends_html = (
                template is not None and template.body_html and (cleaned["body"] == template.body)
            )
            typed_tags = "" if sends_html else tags_in_text(cleaned["body"])
        except MergeError as exc:
            form.add_error("body", exc.message)
        except NoUsableChannel as exc:
            channel_problem = gettext(exc.reason)
        except RecipientSuppressed as exc:
            form.add_error("prospect", gettext("Not sent: %(reason)s") % {"reason": exc.reason})
        except ValidationError as exc:
            # The prospect's stored address, or the sender's own name, cannot go on the wire.
            for field, errors in exc.message_dict.items():
                form.add_error("prospect" if field == "to_address" else None, errors)
    return render(
        request,
        "outreach/compose.html",
        {
            "form": form,
            "preview": preview,
            "typed_tags": typed_tags,
            "fields": FIELDS,
            "channel": channel,
            "channel_problem": channel_problem,
            "template_contents": {
                str(t.pk): {"subject": t.subject, "body": t.body, "name": t.name}
                for t in form.fields["template"].queryset
            },
        },
    )


@login_required
def compose_recipients(request):
    """Compose's "To" as you type: up to ten of the user's prospects by name, company or
    address (the same lookup the form makes without the script)."""
    form = ComposeForm(user=request.user)
    return JsonResponse(
        {
            "results": [
                {
                    "id": p.pk,
                    "label": recipient_label(p),
                    "company": p.company,
                    "invalid": p.email_status == Prospect.EmailStatus.INVALID,
                    "suppressed": p.is_suppressed,
                }
                for p in form.recipient_search(request.GET.get("q", "")[:200])[:RECIPIENT_MATCHES]
            ]
        }
    )


@login_required
def outbox(request):
    """The command center: every email by where it stands, with what to do about it."""
    tab = request.GET.get("tab") or None
    if tab not in OUTBOX_TABS:
        tab = None
    senders = user_list_visible(user=request.user)
    sender_id = None
    if request.user.role != request.user.Role.REP:
        sender_id = (
            senders.filter(pk=param_id(request.GET, "sender") or 0)
            .values_list("pk", flat=True)
            .first()
        )
    search = request.GET.get("q", "").strip()
    page = Paginator(
        outbox_page(user=request.user, tab=tab, sender_id=sender_id, search=search), 50
    ).get_page(request.GET.get("page"))
    estimates = queue_estimates(emails=list(page.object_list), now=timezone.now())
    for email in page.object_list:
        email.display_reason = email_waiting_reason(email=email) or email.failure_reason
        email.estimate = estimates.get(email.id)
    counts = outbox_tab_counts(user=request.user, sender_id=sender_id)
    steps_due = campaign_steps_due_count(user=request.user, sender_id=sender_id)
    return render(
        request,
        "outreach/outbox.html",
        {
            "page": page,
            "tab": tab,
            "tabs": [(key, label, counts[key]) for key, (label, _) in OUTBOX_TABS.items()],
            "counts": counts,
            "notices": outbox_mailbox_notices(user=request.user),
            "senders": senders if request.user.role != request.user.Role.REP else None,
            "sender_id": sender_id,
            "search": search,
            "failed_by_channel": outbox_failed_by_channel(user=request.user, sender_id=sender_id)
            if tab in (None, "failed")
            else [],
            # Rows that change within seconds: the page refreshes itself while there are any.
            # (and while campaign steps are due whose emails the next campaign run writes).
            "moving": counts["waiting"] > 0 or steps_due > 0,
            "steps_due": steps_due,
            "show_sender": request.user.role != request.user.Role.REP,
        },
    )


@login_required
@require_POST
def outbox_bulk(request):
    """Retry or cancel the emails ticked in the outbox."""
    action, _, channel_id = request.POST.get("bulk", "").partition(":")
    visible = outbound_email_list(user=request.user)
    if sender_id := param_id(request.POST, "sender"):
        visible = visible.filter(sender_id=sender_id)  # the sender filter the page showed
    if action == "retry_channel" and channel_id.isdigit():
        # "Retry all N failed on …": every failed email of that channel the user may see.
        emails = list(visible.filter(status=Status.FAILED, channel_id=int(channel_id)))
        action = "retry"
    elif action == "cancel_throttled":
        emails = list(visible.filter(status=Status.THROTTLED))
        action = "cancel"
    else:
        ids = [int(value) for value in request.POST.getlist("emails") if value.isdigit()]
        emails = list(visible.filter(pk__in=ids))
    if not emails:
        messages.error(request, gettext("Tick the emails first."))
    elif action == "retry":
        result = emails_retry(emails=emails)
        if result.retried:
            messages.success(
                request,
                ngettext(
                    "Sending %(count)s email again.",
                    "Sending %(count)s emails again.",
                    result.retried,
                )
                % {"count": result.retried},
            )
        for reason, count in result.refused.items():
            messages.error(
                request,
                gettext("%(count)s not retried: %(reason)s")
                % {"count": count, "reason": gettext(reason)},
            )
        if result.not_failed:
            messages.warning(
                request,
                gettext("%(count)s of the ticked emails had not failed: left as they are.")
                % {"count": result.not_failed},
            )
    elif action == "cancel":
        cancelled = emails_cancel(emails=emails)
        if cancelled:
            messages.success(
                request,
                ngettext("Cancelled %(count)s email.", "Cancelled %(count)s emails.", cancelled)
                % {"count": cancelled},
            )
        if len(emails) > cancelled:
            messages.warning(
                request,
                gettext(
                    "%(count)s of the ticked emails were not waiting any more (already sent, "
                    "on their way, or done): left as they are."
                )
                % {"count": len(emails) - cancelled},
            )
    return _back_to_outbox(request)


def _back_to_outbox(request):
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "outbox")


@login_required
@require_POST
def outbox_retry(request, pk: int):
    email = get_object_or_404(outbound_email_list(user=request.user), pk=pk)
    try:
        email_retry(email=email)
    except (NoUsableChannel, RecipientSuppressed) as exc:
        messages.error(request, gettext(exc.reason))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, gettext("Sending again to %(address)s.") % {"address": email.to_address}
        )
    return _back_to_outbox(request)


@login_required
@require_POST
def outbox_cancel(request, pk: int):
    email = get_object_or_404(outbound_email_list(user=request.user), pk=pk)
    if email_cancel(email=email):
        messages.success(
            request,
            gettext("Cancelled the email to %(address)s.") % {"address": email.to_address},
        )
    else:
        messages.warning(request, gettext("Too late to cancel: that email is already on its way."))
    return _back_to_outbox(request)


@login_required
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    return render(
        request,
        "outreach/api_tokens.html",
        {
            "form": form,
            "tokens": api_token_list(user=request.user),
            "new_token": new_token,
            "api_url": request.build_absolute_uri(reverse("api_emails")),
        },
    )


@login_required
@require_POST
def api_token_delete(request, pk: int):
    token = get_object_or_404(api_token_list(user=request.user), pk=pk)
    api_token_revoke(token=token)
    messages.success(
        request,
        gettext("Revoked “%(name)s”: the plug-in using it can no longer send.")
        % {"name": token.name},
    )
    return redirect("api_tokens")
