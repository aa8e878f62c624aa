from django.http import HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static


def favicon(request):
    """Browsers and the Django admin ask for /favicon.ico whatever a page's <link rel="icon">
    says; the icon's URL is looked up per request, as the static storage names it."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


def bad_request(request, exception=None):
    """A 400 page that says what was wrong with the request (the message of the BadRequest a
    view raised), inside the normal layout so the person can carry on."""
    reason = str(exception) if exception is not None else ""
    return render(request, "400.html", {"reason": reason}, status=400)
