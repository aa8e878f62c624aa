from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from .languages import request_language
from .timezones import user_zone


class OrganizationTimeZoneMiddleware:
    """Activates the signed-in user's organization time zone for the request, so every page
    shows times the way the organization reads them ({{ when|date }}, {% get_current_timezone %})
    and form fields read the times people type in it. Storage stays UTC. Goes after
    AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(user_zone(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class UserLanguageMiddleware:
    """Activates the request's language (core.languages: the user's choice, the organization's
    default, the browser's) for every page, form and message. Goes after
    AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response


class RefuseNulInQueryMiddleware:
    """A NUL byte (`%00`) in the query string is answered 400 before any view runs: no search,
    filter or id holds one, PostgreSQL refuses it in any text, and a view would otherwise fail
    on it with a server error. The API gets JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or "\x00" in "".join(values) for key, values in request.GET.lists()):
            message = "The query string contains a NUL character (%00): remove it."
            if request.path.startswith("/api/"):
                return JsonResponse({"error": "invalid_request", "message": message}, status=400)
            raise BadRequest(message)
        return self.get_response(request)
