"""The analytics charts are drawn for the width they are shown at: a month of days gets about
a dozen date labels on a desktop and a few on a phone, and a comparison's labels and bars stay
inside a phone-sized drawing."""

import re
from datetime import date, timedelta

from analytics import charts
from analytics.selectors import DayPoint, Figures


def _days(n: int) -> list[DayPoint]:
    first = date(2026, 11, 1)
    return [
        DayPoint(first + timedelta(days=i), Figures(sent=10 + i, bounced_hard=i % 3))
        for i in range(n)
    ]


def _date_labels(svg: str) -> list[str]:
    return re.findall(r">((?:Oct|Nov|Dec) \d+)</text>", svg)


def test_a_month_gets_a_dozen_date_labels_on_a_desktop_and_a_few_on_a_phone():
    wide = charts.sends_and_bounce_rate(_days(30))
    narrow = charts.sends_and_bounce_rate(_days(30), width=charts.PHONE_WIDTH)
    assert 10 <= len(_date_labels(wide)) <= 15
    assert 2 <= len(_date_labels(narrow)) <= 5
    assert f'viewBox="0 0 {charts.PHONE_WIDTH} ' in narrow


def test_responsive_holds_both_drawings():
    both = charts.responsive(charts.sends_and_bounce_rate, _days(7))
    assert both.count("<svg") == 2
    assert '<div class="chart-wide">' in both and '<div class="chart-narrow">' in both


def test_a_comparison_fits_a_phone_drawing():
    rows = [
        (
            "A template with a rather long name for the quarter",
            Figures(sent=50, bounced_hard=5, replied=4),
        )
    ]
    svg = charts.rate_comparison(rows, width=charts.PHONE_WIDTH)
    xs = [float(x) for x in re.findall(r' x="([\d.]+)"', svg)]
    assert max(xs) < charts.PHONE_WIDTH
    assert "A template with a rather long name for the quarter" not in re.sub(
        r"<title>.*?</title>", "", svg
    )
