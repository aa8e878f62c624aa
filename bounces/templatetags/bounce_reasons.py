from django import template

from bounces.parsing import vocabulary

register = template.Library()


@register.filter
def bounce_reason(reason: str) -> str:
    """A bounce's reason in words ("user_unknown" -> "Address does not exist"); '' for none."""
    return vocabulary.label(reason or "")
