from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

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


def _rate_cell(rate: float | None) -> str:
    if rate is None:
        return '<td class="num">–</td>'
    level = " bad" if rate >= 0.05 else " warn" if rate >= 0.02 else ""
    pill = f"pill{level}" if level else ""
    return f'<td class="num"><span class="{pill}">{rate * 100:.1f}%</span></td>'


@register.simple_tag
def figure_cells(f) -> str:
    """The eight figure cells of a row (sent … reply rate). Built in Python: a leaderboard or
    a template table renders hundreds of them, and an {% include %} per row would cost more
    than the queries behind the page. Only numbers go in, so the markup is safe."""
    cells = [
        f'<td class="num">{f.sent:,}</td>',
        f'<td class="num">{f.delivered:,}</td>',
        f'<td class="num">{f.bounced:,}</td>',
        f'<td class="num">{f.bounced_hard:,}</td>',
        f'<td class="num">{f.bounced_soft:,}</td>',
        _rate_cell(f.bounce_rate),
        f'<td class="num">{f.replied:,}</td>',
        f'<td class="num">{pct(f.reply_rate)}</td>',
    ]
    return mark_safe("".join(cells))  # noqa: S308 — numbers only


@register.filter
def num(value) -> str:
    """A count with thousands separators (cheaper than humanize's intcomma in long tables)."""
    return f"{value:,}" if isinstance(value, int) else str(value)
