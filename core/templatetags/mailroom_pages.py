"""Links that change one thing about the page being looked at and keep the rest: the pager
keeps the search, the filters and the sort; a sortable column keeps the search and filters."""

from django import template
from django.utils.html import format_html

register = template.Library()


def _with(request, **changes) -> str:
    query = request.GET.copy()
    for name, value in changes.items():
        if value in (None, ""):
            query.pop(name, None)
        else:
            query[name] = value
    return "?" + query.urlencode() if query else "?"


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    """This page's URL at page `number`, every other parameter kept."""
    return _with(context["request"], page=number)


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str):
    """A column heading that sorts by `key` (again: the other way), back to page one."""
    request = context["request"]
    current = request.GET.get("sort", "")
    descending = current == key
    arrow = " ▲" if current == key else " ▼" if current == "-" + key else ""
    state = "ascending" if current == key else "descending" if current == "-" + key else "none"
    return format_html(
        '<th aria-sort="{}"><a href="{}">{}{}</a></th>',
        state,
        _with(request, sort=("-" + key) if descending else key, page=None),
        label,
        arrow,
    )
