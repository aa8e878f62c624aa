"""The language people read Mailroom in: their own choice (User.language), else their
organization's default (Organization.language), else what their browser asks for
(Accept-Language, or the switcher's cookie before signing in). English and Korean are complete
(locale/ko); emails reps write are never translated."""

from django.conf import settings
from django.utils import translation


def language_supported(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


def user_language(user) -> str:
    """The user's own choice, else their organization's default; "" when neither is set."""
    if user is None or not user.is_authenticated:
        return ""
    if language_supported(getattr(user, "language", "") or ""):
        return user.language
    organization = user.organization if user.organization_id else None
    if organization is not None and language_supported(organization.language or ""):
        return organization.language
    return ""


def request_language(request) -> str:
    """The language of this request's pages (see the module's docstring)."""
    return user_language(getattr(request, "user", None)) or translation.get_language_from_request(
        request
    )
