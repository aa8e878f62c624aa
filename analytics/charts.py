"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, they print, and every bar
carries a <title> a browser shows on hover. Their words and dates are in the reader's language
(the day labels in the locale's MONTH_DAY_FORMAT: "Dec 2", "12월 2일")."""

import math
from collections.abc import Callable, Sequence
from datetime import date

from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext

from .selectors import DayPoint, Figures

SENT = "#2f5bea"
BOUNCED = "#d92d20"
RATE = "#b54708"
REPLIED = "#067647"
GRID = "#e4e7ec"
INK = "#667085"


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/5 × 10^n at or above value (axis steps that read well)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def _count_axis(most: int, *, max_ticks: int = 5) -> tuple[int, int]:
    """(step, number of steps) for an axis of whole counts reaching at least `most`."""
    step = max(1, int(_nice_ceiling(most / max_ticks))) if most > 0 else 1
    return step, max(1, math.ceil(most / step))


def _format_percent(value: float) -> str:
    return f"{value:.0f}%" if value == int(value) else f"{value:g}%"


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _day_label(day: date) -> str:
    return date_format(day, "MONTH_DAY_FORMAT")


PHONE_WIDTH = 380


def responsive(draw: Callable[..., SafeString], *args) -> SafeString:
    """The chart drawn twice: for a desktop and for a phone, where a desktop drawing shrunk to
    fit would print its labels a third of their size. CSS shows the one that fits the screen."""
    return format_html(
        '<div class="chart-wide">{}</div><div class="chart-narrow">{}</div>',
        draw(*args),
        draw(*args, width=PHONE_WIDTH),
    )


def sends_and_bounce_rate(points: Sequence[DayPoint], *, width: int = 1100) -> SafeString:
    """Bars: emails sent per day (the bounced part in red). Line: bounce rate per day, read on
    the right-hand axis."""
    height, left, right, top, bottom = 260, 48, 52, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(points), 1)
    step, ticks = _count_axis(max((p.figures.sent for p in points), default=0))
    most = step * ticks
    worst = max((p.figures.bounce_rate or 0 for p in points), default=0)
    rate_step = _nice_ceiling(max(worst * 100, 5) / ticks)  # percent per grid line
    rate_top = rate_step * ticks / 100
    slot = plot_w / count
    bar = max(slot * 0.7, 1)
    words = {
        "title": escape(gettext("Emails sent per day and bounce rate")),
        "sent": escape(gettext("sent")),
        "bounced": escape(gettext("bounced")),
        "rate": escape(gettext("bounce rate (right axis)")),
    }
    tip_words = gettext(
        "%(day)s: %(sent)s sent, %(bounced)s bounced (%(rate)s), %(replied)s replies"
    )
    # A date format of its own to translate: "Wed 02 Dec 2026", "2026년 12월 2일 (수)".
    tip_day = pgettext("chart tooltip date format", "D d M Y")
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{words["title"]}" xmlns="http://www.w3.org/2000/svg" '
        f'font-size="11" font-family="inherit">'
    ]
    for tick in range(ticks + 1):
        y = top + plot_h - plot_h * tick / ticks
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{step * tick:,}</text>"
            f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" fill="{RATE}">'
            f"{_format_percent(round(rate_step * tick, 6))}</text>"
        )
    label_every = max(1, math.ceil(count / max(3, width // 92)))  # about 12 across a desktop
    line: list[str] = []
    for index, point in enumerate(points):
        figures = point.figures
        x = left + slot * index + (slot - bar) / 2
        sent_h = plot_h * figures.sent / most
        bounced_h = plot_h * figures.bounced / most
        tip = escape(
            tip_words
            % {
                "day": date_format(point.day, tip_day),
                "sent": f"{figures.sent:,}",
                "bounced": f"{figures.bounced:,}",
                "rate": _percent(figures.bounce_rate),
                "replied": f"{figures.replied:,}",
            }
        )
        parts.append(
            f"<g><title>{tip}</title>"
            f'<rect x="{x:.1f}" y="{top + plot_h - sent_h:.1f}" width="{bar:.1f}" '
            f'height="{sent_h:.1f}" fill="{SENT}" opacity="0.85"/>'
            f'<rect x="{x:.1f}" y="{top + plot_h - bounced_h:.1f}" width="{bar:.1f}" '
            f'height="{bounced_h:.1f}" fill="{BOUNCED}"/>'
            f'<rect x="{left + slot * index:.1f}" y="{top}" width="{slot:.1f}" '
            f'height="{plot_h}" fill="transparent"/></g>'
        )
        if figures.bounce_rate is not None:
            y = top + plot_h - plot_h * min(figures.bounce_rate / rate_top, 1)
            line.append(f"{x + bar / 2:.1f},{y:.1f}")
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{INK}">{_day_label(point.day)}</text>'
            )
    if len(line) > 1:
        parts.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{RATE}" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
    for dot in line if len(line) <= 62 else []:
        cx, cy = dot.split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{RATE}"/>')
    parts.append(
        f'<g transform="translate({left},14)">'
        f'<rect width="10" height="10" y="-9" fill="{SENT}"/><text x="14">{words["sent"]}</text>'
        f'<rect x="60" width="10" height="10" y="-9" fill="{BOUNCED}"/>'
        f'<text x="74">{words["bounced"]}</text>'
        f'<line x1="140" x2="156" y1="-4" y2="-4" stroke="{RATE}" stroke-width="2"/>'
        f'<text x="160">{words["rate"]}</text></g>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text is escaped


def rate_comparison(rows: Sequence[tuple[str, Figures]], *, width: int = 1100) -> SafeString:
    """Horizontal bars comparing bounce rate and reply rate of a few templates (or reps)."""
    row_h, label_w, top = 34, min(300, round(width * 0.36)), 26
    height = top + row_h * max(len(rows), 1) + 8
    plot_w = width - label_w - 90
    top_rate = max(
        [f.bounce_rate or 0 for _, f in rows] + [f.reply_rate or 0 for _, f in rows] + [0.05]
    )
    scale = _nice_ceiling(top_rate * 100) / 100
    words = {
        "title": escape(gettext("Bounce rate and reply rate compared")),
        "bounce": escape(gettext("bounce rate")),
        "reply": escape(gettext("reply rate")),
    }
    tip_words = gettext("%(label)s: %(sent)s sent, bounce rate %(bounce)s, reply rate %(reply)s")
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{words["title"]}" xmlns="http://www.w3.org/2000/svg" '
        f'font-size="12" font-family="inherit">',
        f'<g transform="translate({label_w},14)">'
        f'<rect width="10" height="10" y="-9" fill="{BOUNCED}"/>'
        f'<text x="14">{words["bounce"]}</text>'
        f'<rect x="110" width="10" height="10" y="-9" fill="{REPLIED}"/>'
        f'<text x="124">{words["reply"]}</text></g>',
    ]
    for index, (label, figures) in enumerate(rows):
        y = top + row_h * index
        most_chars = label_w // 7
        short = label if len(label) <= most_chars else label[: most_chars - 1] + "…"
        tip = escape(
            tip_words
            % {
                "label": label,
                "sent": f"{figures.sent:,}",
                "bounce": _percent(figures.bounce_rate),
                "reply": _percent(figures.reply_rate),
            }
        )
        parts.append(
            f"<g><title>{tip}</title>"
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" fill="#1d2330">'
            f"{escape(short)}</text>"
        )
        for offset, rate, color in (
            (3, figures.bounce_rate, BOUNCED),
            (17, figures.reply_rate, REPLIED),
        ):
            length = plot_w * min((rate or 0) / scale, 1)
            parts.append(
                f'<rect x="{label_w}" y="{y + offset}" width="{max(length, 1):.1f}" height="12" '
                f'fill="{color}" rx="2"/>'
                f'<text x="{label_w + length + 6:.1f}" y="{y + offset + 10}" fill="{INK}">'
                f"{_percent(rate)}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text is escaped
