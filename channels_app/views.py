"""The email settings page and its actions. Thin: selectors read, services write."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from bounces.polling import channel_poll_request

from .domain_check import (
    channel_domain_check,
    domain_check_stored,
    expectation_for,
    sending_domain,
)
from .forms import EspWebhookForm, ExchangeOnPremForm, ImapSettingsForm, SmtpChannelForm
from .models import DeliveryChannel
from .providers.esp import ESPS, WEBHOOK_USERNAME
from .providers.ews_auth import EwsLoginFailed
from .providers.imap import ImapFailed
from .providers.smtp_auth import SmtpLoginFailed
from .push import ews_push_enabled
from .selectors import channel_for_user, channel_get_visible, email_settings_for_user
from .services import (
    channel_choose,
    channel_choose_legacy,
    channel_disconnect,
    channel_esp_webhook_set,
    channel_exchange_onprem_save,
    channel_imap_off,
    channel_imap_set,
    channel_smtp_save,
)
from .tasks import channel_push_start

Kind = DeliveryChannel.Kind


def _smtp_initial(channel: DeliveryChannel | None) -> dict:
    if channel is None:
        return {}
    return {
        "host": channel.host,
        "port": channel.port,
        "security": channel.security,
        "username": channel.username,
        "from_domain": channel.from_domain,
    }


def _webhook(request: HttpRequest, channel: DeliveryChannel | None) -> dict | None:
    """What the SMTP card shows of its ESP bounce webhook: the URL (with the basic-auth
    credentials Mailroom made, which the admin pastes into the ESP) and where to paste it."""
    if channel is None:
        return None
    info: dict = {"channel": channel, "form": EspWebhookForm(initial={"esp": channel.esp})}
    if channel.has_esp_webhook:
        esp = ESPS[channel.esp]
        url = request.build_absolute_uri(reverse("esp_webhook", args=[channel.esp_webhook_key]))
        if esp.auth == "basic":
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://{WEBHOOK_USERNAME}:{channel.esp_webhook_secret}@{rest}"
        info.update(url=url, esp=esp, label=channel.get_esp_display())
    return info


def _imap(channel: DeliveryChannel | None, form: ImapSettingsForm | None = None) -> dict | None:
    """What the SMTP card shows of its IMAP inbox: the state of its checks and the form."""
    if channel is None:
        return None
    if form is None or form.prefix != f"imap{channel.pk}":
        initial = {"imap_folder": "INBOX", "imap_security": DeliveryChannel.Security.SSL}
        if channel.has_imap:
            initial = {
                "imap_host": channel.imap_host,
                "imap_port": channel.imap_port,
                "imap_security": channel.imap_security,
                "imap_username": channel.imap_username,
                "imap_folder": channel.imap_folder,
            }
        form = ImapSettingsForm(initial=initial, saved=channel, prefix=f"imap{channel.pk}")
    return {"channel": channel, "form": form}


def _domain_check(channel: DeliveryChannel | None) -> dict | None:
    """What the page shows of a channel's From domain: the stored check (never a DNS query
    while the page renders; "Check now" and the 6-hourly task make them)."""
    if channel is None or channel.kind == Kind.MSC_LEGACY or not sending_domain(channel):
        return None
    return {
        "channel": channel,
        "domain": sending_domain(channel),
        "check": domain_check_stored(channel=channel),
    }


def _domain_checks(channels: list[DeliveryChannel | None]) -> list[dict]:
    """One entry per channel (the one in use first), each From domain and provider once."""
    seen, found = set(), []
    for channel in channels:
        info = _domain_check(channel)
        if info is None:
            continue
        expectation = expectation_for(info["channel"])
        key = (info["domain"], expectation.provider if expectation else info["channel"].pk)
        if key not in seen:
            seen.add(key)
            found.append(info)
    return found


def _moves_question(current: DeliveryChannel, target: str, *, action: str = "") -> str:
    lead = f"{action} " if action else ""
    return lead + gettext(
        "Sending moves from %(current)s to %(target)s: your new email and the email still "
        "waiting go out through it."
    ) % {"current": current.short_label, "target": target}


def _switch_questions(state) -> dict:
    """What each connect, save or "use" button asks first when another channel is in use:
    doing it moves the user's sending, so the question says from where to where. Keyed by
    card, plus (channel, question) pairs for "Choose your channel"; no question, no dialog."""
    current = state.current
    choices = [c for c in state.usable if c.kind != Kind.MSC_LEGACY]
    if current is None:
        return {"choose": [(channel, "") for channel in choices]}
    questions = {
        "google": _moves_question(current, "Gmail", action=gettext("Connect Gmail?")),
        "microsoft": _moves_question(current, "Outlook", action=gettext("Connect Outlook?")),
        "own_smtp": _moves_question(current, gettext("your SMTP server"), action=gettext("Save?")),
        "onprem": _moves_question(current, "Exchange On-Prem", action=gettext("Save?")),
        "legacy": _moves_question(current, gettext("the legacy servers")),
    }
    for kind, key in (
        (Kind.GMAIL, "google"),
        (Kind.EXCHANGE_ONLINE, "microsoft"),
        (Kind.CUSTOM_SMTP, "own_smtp"),
        (Kind.EXCHANGE_ONPREM, "onprem"),
        (Kind.MSC_LEGACY, "legacy"),
    ):
        channel = state.legacy if kind == Kind.MSC_LEGACY else state.own.get(kind)
        if channel is not None and channel.pk == current.pk:
            questions[key] = ""
        elif channel is not None and kind in DeliveryChannel.POLLED_KINDS:
            questions[key] = _moves_question(
                current, channel.short_label, action=gettext("Reconnect?")
            )
    questions["choose"] = [
        (channel, "" if channel.pk == current.pk else _moves_question(current, channel.short_label))
        for channel in choices
    ]
    return questions


def _page(request: HttpRequest, *, status: int = 200, **forms) -> HttpResponse:
    state = email_settings_for_user(user=request.user)
    own_smtp = state.own.get(Kind.CUSTOM_SMTP)
    onprem = state.own.get(Kind.EXCHANGE_ONPREM)
    context = {
        "state": state,
        "current": state.current,
        "gmail": state.own.get(Kind.GMAIL),
        "outlook": state.own.get(Kind.EXCHANGE_ONLINE),
        "own_smtp": own_smtp,
        "onprem": onprem,
        "smtp_form": forms.get("smtp_form")
        or SmtpChannelForm(
            initial=_smtp_initial(own_smtp),
            saved=own_smtp,
            prefix="own",
        ),
        "team_smtp_form": forms.get("team_smtp_form")
        or SmtpChannelForm(
            initial=_smtp_initial(state.team_smtp),
            saved=state.team_smtp,
            prefix="team",
        ),
        "onprem_form": forms.get("onprem_form")
        or ExchangeOnPremForm(
            initial={
                "email_address": onprem.mailbox_address if onprem else request.user.email,
                "ews_url": onprem.ews_url if onprem else "",
                "username": onprem.username if onprem else "",
                "daily_limit": onprem.daily_limit if onprem else None,
                "per_minute_limit": onprem.per_minute_limit if onprem else None,
            },
            saved=onprem,
        ),
        "own_smtp_webhook": _webhook(request, own_smtp),
        "team_smtp_webhook": _webhook(request, state.team_smtp) if state.can_manage_team else None,
        "own_smtp_imap": _imap(own_smtp, forms.get("imap_form")),
        "team_smtp_imap": _imap(state.team_smtp, forms.get("imap_form"))
        if state.can_manage_team
        else None,
        "domain_checks": _domain_checks(
            [state.current, *state.own.values(), state.team_smtp if state.can_manage_team else None]
        ),
        "switch": _switch_questions(state),
        "open_section": forms.get("open_section", ""),
        "legacy_relay_configured": bool(settings.MAILROOM_LEGACY_SMTP_HOST),
    }
    return render(request, "channels_app/email_settings.html", context, status=status)


@login_required
def email_settings(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def smtp_save(request: HttpRequest, scope: str) -> HttpResponse:
    if scope not in ("own", "team"):
        raise Http404
    team = scope == "team"
    if team and not request.user.is_org_admin:
        raise PermissionDenied(gettext("Only an admin sets the team SMTP."))
    state = email_settings_for_user(user=request.user)
    existing = state.team_smtp if team else state.own.get(Kind.CUSTOM_SMTP)
    form = SmtpChannelForm(request.POST, saved=existing, prefix=scope)
    form_key = "team_smtp_form" if team else "smtp_form"
    if form.is_valid():
        try:
            channel = channel_smtp_save(user=request.user, team=team, **form.cleaned_data)
        except SmtpLoginFailed as exc:
            form.add_error(None, exc.message)
        else:
            if team:
                text = gettext("Team SMTP authenticated and saved: %(server)s.")
            else:
                text = gettext(
                    "Your SMTP server authenticated and saved: %(server)s. Your email now goes "
                    "out through it."
                )
            messages.success(request, text % {"server": f"{channel.host}:{channel.port}"})
            return redirect("email_settings")
    return _page(request, status=400, open_section=scope + "-smtp", **{form_key: form})


@login_required
@require_POST
def esp_webhook_save(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None or channel.kind != Kind.CUSTOM_SMTP:
        raise Http404
    form = EspWebhookForm(request.POST)
    anchor = "team-smtp" if channel.owner_id is None else "own-smtp"
    if form.is_valid():
        try:
            channel_esp_webhook_set(
                user=request.user,
                channel=channel,
                esp=form.cleaned_data["esp"],
                signing_key=form.cleaned_data["signing_key"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if channel.esp:
                messages.success(
                    request,
                    gettext(
                        "Bounce webhook for %(service)s is on: paste the URL below into it. Any "
                        "earlier webhook URL of this channel no longer works."
                    )
                    % {"service": channel.get_esp_display()},
                )
            else:
                messages.success(request, gettext("Bounce webhook turned off."))
    else:
        messages.error(request, gettext("Choose an email service from the list."))
    return redirect(f"{reverse('email_settings')}#{anchor}")


@login_required
@require_POST
def imap_save(request: HttpRequest, channel_id: int) -> HttpResponse:
    """ "Sign in and save" an SMTP channel's IMAP inbox, then check it at once."""
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None or channel.kind != Kind.CUSTOM_SMTP:
        raise Http404
    section = "team-smtp" if channel.owner_id is None else "own-smtp"
    form = ImapSettingsForm(request.POST, saved=channel, prefix=f"imap{channel.pk}")
    if form.is_valid():
        try:
            channel = channel_imap_set(user=request.user, channel=channel, **form.cleaned_data)
        except ImapFailed as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            channel_poll_request(channel=channel)
            messages.success(
                request,
                gettext(
                    "Signed in to %(server)s and opened %(folder)s: Mailroom now reads it for "
                    "bounces and replies (read-only; nothing is marked read)."
                )
                % {"server": channel.imap_host, "folder": channel.imap_folder},
            )
            return redirect(f"{reverse('email_settings')}#{section}")
    return _page(request, status=400, open_section=f"{section}-imap", imap_form=form)


@login_required
@require_POST
def imap_off(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None or channel.kind != Kind.CUSTOM_SMTP:
        raise Http404
    channel_imap_off(user=request.user, channel=channel)
    messages.success(request, gettext("Mailroom no longer reads this SMTP channel's IMAP inbox."))
    anchor = "team-smtp" if channel.owner_id is None else "own-smtp"
    return redirect(f"{reverse('email_settings')}#{anchor}")


@login_required
@require_POST
def domain_check_now(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None:
        raise Http404
    check = channel_domain_check(channel=channel)
    if check is not None:
        messages.success(
            request,
            gettext("Checked %(domain)s: SPF, DKIM, DMARC and MX below.")
            % {"domain": check.domain},
        )
    return redirect(f"{reverse('email_settings')}#domain-check")


@login_required
@require_POST
def exchange_onprem_save(request: HttpRequest) -> HttpResponse:
    existing = email_settings_for_user(user=request.user).own.get(Kind.EXCHANGE_ONPREM)
    form = ExchangeOnPremForm(request.POST, saved=existing)
    if form.is_valid():
        try:
            channel = channel_exchange_onprem_save(user=request.user, **form.cleaned_data)
        except EwsLoginFailed as exc:
            form.add_error(None, exc.message)
        else:
            if ews_push_enabled():
                # A new push subscription for the saved mailbox (an earlier one, if any, is
                # answered Unsubscribe at its next notification).
                channel_id = channel.pk
                transaction.on_commit(lambda: channel_push_start.delay(channel_id))
            messages.success(
                request,
                gettext(
                    "Exchange mailbox %(address)s signed in and saved. Your email now goes out "
                    "through it."
                )
                % {"address": channel.mailbox_address},
            )
            return redirect("email_settings")
    return _page(request, status=400, open_section="onprem", onprem_form=form)


@login_required
@require_POST
def choose(request: HttpRequest) -> HttpResponse:
    value = request.POST.get("channel", "")
    if value == "legacy":
        channel_choose_legacy(user=request.user)
        messages.success(request, gettext("Your email now goes out through the legacy servers."))
        return redirect("email_settings")
    try:
        channel_id = int(value)
    except ValueError:
        raise Http404 from None
    channel = next(
        (c for c in email_settings_for_user(user=request.user).usable if c.pk == channel_id), None
    )
    if channel is None:
        raise Http404
    channel_choose(user=request.user, channel=channel)
    messages.success(
        request,
        gettext("Your email now goes out through %(channel)s.")
        % {"channel": channel.get_kind_display()},
    )
    return redirect("email_settings")


@login_required
@require_POST
def disconnect(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None:
        raise Http404
    channel_disconnect(user=request.user, channel=channel)
    messages.success(
        request, gettext("%(channel)s disconnected.") % {"channel": channel.get_kind_display()}
    )
    return redirect("email_settings")


@login_required
def reconnect(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Where the banner's and the feed's "Reconnect" leads. Starting an OAuth connection takes
    a POST (allauth), so this page shows the button; other kinds go to their form."""
    channel = channel_get_visible(user=request.user, channel_id=channel_id)
    if channel is None:
        raise Http404
    if channel.kind not in DeliveryChannel.POLLED_KINDS:
        anchor = {
            Kind.CUSTOM_SMTP: "team-smtp" if channel.owner_id is None else "own-smtp",
            Kind.EXCHANGE_ONPREM: "onprem",
        }.get(channel.kind, "")
        return redirect(f"{reverse('email_settings')}#{anchor}")
    current = channel_for_user(user=request.user)
    question = ""
    if current is not None and current.pk != channel.pk:
        question = _moves_question(current, channel.short_label, action=gettext("Reconnect?"))
    return render(
        request, "channels_app/reconnect.html", {"channel": channel, "question": question}
    )
