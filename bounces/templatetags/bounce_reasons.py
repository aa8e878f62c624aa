from django import template
from django.utils.translation import gettext

from bounces.parsing import vocabulary

register = template.Library()


@register.filter
def bounce_reason(reason: str) -> str:
    """A bounce's reason in words ("user_unknown" -> "Address does not exist"), in the page's
    language; '' for none."""
    words = vocabulary.label(reason or "")
    return gettext(words) if words else ""
