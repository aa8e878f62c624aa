from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

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
