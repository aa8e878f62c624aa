from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.languages import language_supported
from core.models import WorkerHeartbeat
from outreach.selectors import outbound_email_counts

from .selectors import team_list_visible, user_list_visible


@login_required
def home(request):
    """Each role lands on its own home page."""
    user = request.user
    context = {"counts": outbound_email_counts(user=user)}
    if user.role == user.Role.REP:
        template = "accounts/home_rep.html"
    elif user.role == user.Role.MANAGER:
        template = "accounts/home_manager.html"
        context["teams"] = team_list_visible(user=user)
        context["members"] = user_list_visible(user=user).exclude(pk=user.pk)
    else:
        template = "accounts/home_admin.html"
        context["teams"] = team_list_visible(user=user)
        context["members"] = user_list_visible(user=user)
        alive_since = timezone.now() - timedelta(minutes=3)
        context["worker_alive"] = WorkerHeartbeat.objects.filter(
            last_seen_at__gte=alive_since
        ).exists()
    return render(request, template, context)


@require_POST
def language_set(request):
    """The navigation's language switcher: a signed-in user's choice is kept on their profile
    (every device, and the emails Mailroom writes to them); before signing in, in a cookie.
    "" goes back to the organization's default (or the browser's language)."""
    language = request.POST.get("language", "")
    if language and not language_supported(language):
        language = ""
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = redirect(target)
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
