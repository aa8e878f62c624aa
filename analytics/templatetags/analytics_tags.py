from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def pct(rate: float | None) -> str:
    """A rate as a percentage with one decimal; a dash when there is nothing to divide."""
    return "–" if rate is None else f"{rate * 100:.1f}%"


@register.simple_tag(takes_context=True)
def sort_th(context, key: str, label: str, numeric: bool = True, title: str = "") -> str:
    """A column header that sorts the table by `key`; a second click reverses the order."""
    current = context.get("sort", "")
    query = context.get("sort_query", "")
    descending_first = numeric
    if current == key:
        target, arrow = f"-{key}", " ↑"
    elif current == f"-{key}":
        target, arrow = key, " ↓"
    else:
        target, arrow = (f"-{key}" if descending_first else key), ""
    href = f"?{query}&sort={target}" if query else f"?sort={target}"
    return format_html(
        '<th class="{}"{}><a href="{}">{}{}</a></th>',
        "num" if numeric else "",
        format_html(' title="{}"', title) if title else "",
        href,
        label,
        arrow,
    )
