"""The language people read Mailroom in: their own choice (User.language), else their
organization's default (Organization.language), else what their browser asks for
(Accept-Language, or the switcher's cookie before signing in). English and Korean are complete
(locale/ko); emails reps write are never translated."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real


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


def browser_language(request) -> str:
    """The first supported language the browser's Accept-Language asks for; "" when it asks
    for none of them (get_language_from_request would fall back to LANGUAGE_CODE)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def recipient_language(request, *, organization) -> str:
    """Pages for people outside Mailroom (a prospect unsubscribing): their browser's language,
    else the sending organization's default, else English."""
    if organization is not None and language_supported(organization.language or ""):
        fallback = organization.language
    else:
        fallback = settings.LANGUAGE_CODE
    return browser_language(request) or fallback


def request_language(request) -> str:
    """The language of this request's pages (see the module's docstring)."""
    return user_language(getattr(request, "user", None)) or translation.get_language_from_request(
        request
    )
