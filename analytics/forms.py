from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.names import person_name

from .selectors import AnalyticsFilter, analytics_filter_choices
from .services import zone_or_utc

DEFAULT_DAYS = 30
MAX_DAYS = 731
# Dates outside these are typos (or probes): refused with the range, and every date arithmetic
# on a range (a day before, a day after, time zones) stays far from datetime's year 1 and 9999.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)
PRESETS = [(7, _("7 days")), (30, _("30 days")), (90, _("90 days")), (365, _("12 months"))]


def organization_today(*, user: User) -> date:
    zone = zone_or_utc(user.organization.timezone if user.organization_id else "UTC")
    return timezone.now().astimezone(zone).date()


class AnalyticsFilterForm(forms.Form):
    """Date range (days in the organization's time zone) and, for managers and admins, a team
    or a rep. Only teams and reps the viewer may see are offered, so the choice is the scope
    check."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label=_("All teams"))
    rep = forms.ModelChoiceField(queryset=None, required=False, empty_label=_("All reps"))

    def __init__(self, data, *, user: User):
        super().__init__(data)
        self.user = user
        self.today = organization_today(user=user)
        teams, reps = analytics_filter_choices(user=user)
        self.fields["team"].queryset = teams
        self.fields["rep"].queryset = reps
        self.can_narrow = user.role != User.Role.REP
        self._teams, self._reps = teams, reps

    def team_choices(self) -> list[tuple[int, str]]:
        """(id, name) for the team select, rendered by a plain loop: Django's widget renders
        one template per option, which costs more than the page's queries."""
        return list(self._teams.values_list("id", "name")) if self.can_narrow else []

    def rep_choices(self) -> list[tuple[int, str]]:
        if not self.can_narrow:
            return []
        return [
            (pk, person_name(first, last) or email)
            for pk, first, last, email in self._reps.values_list(
                "id", "first_name", "last_name", "email"
            )
        ]

    def _clean_date(self, name: str) -> date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not FIRST_DATE <= value <= LAST_DATE:
            raise forms.ValidationError(
                gettext("Pick dates between %(first)s and %(last)s.")
                % {"first": FIRST_DATE.isoformat(), "last": LAST_DATE.isoformat()}
            )
        return value

    def clean_start(self):
        return self._clean_date("start")

    def clean_end(self):
        return self._clean_date("end")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(gettext("Choose a range of at most two years."))
        data["start"], data["end"] = start, end
        return data

    def analytics_filter(self) -> AnalyticsFilter:
        """The valid filter; an invalid input falls back to the default range (errors shown)."""
        if self.is_valid():
            data = self.cleaned_data
            team, rep = data.get("team"), data.get("rep")
            return AnalyticsFilter(
                first=data["start"],
                last=data["end"],
                team_id=team.pk if team else None,
                sender_id=rep.pk if rep else None,
            )
        return AnalyticsFilter(first=self.today - timedelta(days=DEFAULT_DAYS - 1), last=self.today)

    def presets(self) -> list[tuple[object, str, bool]]:
        """Links for the common ranges ending today: (label, start, active)."""
        current = self.analytics_filter()
        return [
            (
                label,
                (self.today - timedelta(days=days - 1)).isoformat(),
                current.last == self.today and (current.last - current.first).days == days - 1,
            )
            for days, label in PRESETS
        ]
