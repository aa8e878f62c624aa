from django.conf import settings
from django.utils.module_loading import import_string


def navigation(request):
    """Values every page's layout needs, from the apps' MAILROOM_NAVIGATION_CONTEXT hooks.

    Hooks may share a key: lists are joined (several apps add `channel_banners`), other values
    are taken from the last hook that sets them."""
    context: dict = {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    for path in getattr(settings, "MAILROOM_NAVIGATION_CONTEXT", []):
        for key, value in import_string(path)(request).items():
            if isinstance(value, list) and isinstance(context.get(key), list):
                context[key] = context[key] + value
            else:
                context[key] = value
    return context
