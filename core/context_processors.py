from django.conf import settings
from django.utils.module_loading import import_string

# Banner levels: "error" / "warning" say something of the user's is broken or held back (a
# mailbox to reconnect, the team SMTP refusing its login); "info" invites the user to set up
# their own sending ("Connect Gmail or Outlook to unlock sending").
INVITATION_LEVEL = "info"


def navigation(request):
    """Values every page's layout needs, from the apps' MAILROOM_NAVIGATION_CONTEXT hooks.

    Hooks may share a key: lists are joined (several apps add `channel_banners`), other values
    are taken from the last hook that sets them.

    Only reps connect a mailbox and send for themselves (README, "Connecting a channel"), so
    only reps get invitations as a banner on every page. For managers and admins they become
    `setup_notes`, which their home page shows quietly; problems stay banners for everyone they
    concern."""
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
    if not user.is_rep and context.get("channel_banners"):
        banners = context["channel_banners"]
        context["channel_banners"] = [b for b in banners if b.get("level") != INVITATION_LEVEL]
        context["setup_notes"] = [b for b in banners if b.get("level") == INVITATION_LEVEL]
    return context
