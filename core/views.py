from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def coming_soon(request, *, title: str, issue: str, summary: str):
    """A page whose feature belongs to a later issue: it says so instead of pretending."""
    return render(
        request, "core/coming_soon.html", {"title": title, "issue": issue, "summary": summary}
    )
