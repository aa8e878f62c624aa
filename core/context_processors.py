from django.conf import settings


def navigation(request):
    """Values every page's layout needs. Apps extend it through NAVIGATION_CONTEXT hooks."""
    from django.utils.module_loading import import_string

    context = {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    for path in getattr(settings, "MAILROOM_NAVIGATION_CONTEXT", []):
        context.update(import_string(path)(request))
    return context
