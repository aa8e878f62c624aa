from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from core.timefmt import relative_time

register = template.Library()


@register.simple_tag
def when(moment, empty: str = ""):
    """A <time> element: the relative time, with the exact local time on hover."""
    if not moment:
        return format_html('<span class="muted">{}</span>', empty or gettext("never"))
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        f"{local:%Y-%m-%d %H:%M}",
        relative_time(moment),
    )
