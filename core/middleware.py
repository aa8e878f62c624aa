from django.utils import timezone

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
