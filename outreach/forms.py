from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import user_list_visible
from core.timezones import UTC_ZONE, user_zone

from .imports import IMPORT_FIELDS, MAX_FILE_BYTES
from .inputs import (
    COMPOSE_TOO_FAR,
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    body_problem,
    compose_send_at_problem,
    subject_problem,
)
from .models import Campaign, Prospect, ProspectImport
from .selectors import campaign_list, prospect_list, template_list


class ZonedDateTimeField(forms.DateTimeField):
    """A date and time read and shown in a given zone (the organization's), whatever zone is
    active. A wall-clock time the zone skips or repeats (daylight saving) is refused by
    Django's own check rather than guessed."""

    def __init__(self, *, zone: ZoneInfo | None = None, **kwargs):
        self.zone = zone or UTC_ZONE
        super().__init__(**kwargs)

    def prepare_value(self, value):
        with timezone.override(self.zone):
            return super().prepare_value(value)

    def to_python(self, value):
        with timezone.override(self.zone):
            try:
                return super().to_python(value)
            except OverflowError as exc:
                # Within a day of datetime's end (9999-12-31): no zone conversion fits.
                raise forms.ValidationError(COMPOSE_TOO_FAR, code="out_of_range") from exc
            except forms.ValidationError as exc:
                if exc.code != "ambiguous_timezone":
                    raise
                raise forms.ValidationError(
                    gettext(
                        "Clocks change around that time in %(zone)s, so it is skipped or "
                        "happens twice: pick another time."
                    )
                    % {"zone": self.zone.key},
                    code="ambiguous_timezone",
                ) from exc


def _refuse_problem(value: str, check) -> str:
    if problem := check(value):
        raise forms.ValidationError(problem)
    return value


RECIPIENT_MATCHES = 10


def _limit_help(limit: int) -> str:
    return ngettext("At most %(limit)s character.", "At most %(limit)s characters.", limit) % {
        "limit": f"{limit:,}"
    }


def recipient_label(prospect: Prospect) -> str:
    """How Compose's "To" shows a picked prospect (and how it knows the pick still stands)."""
    name = prospect.full_name.strip()
    return f"{name} <{prospect.email}>" if name else prospect.email


class ComposeForm(forms.Form):
    # "To" is a search over the rep's prospects (name, company or address): the page's script
    # offers matches as you type and puts the pick's id in `prospect`; without the script the
    # server does the same lookup when the form is sent (one match is taken, several listed).
    to = forms.CharField(
        required=False,
        label=_("To"),
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "placeholder": _("Name, company or address"),
                "role": "combobox",
                "aria-autocomplete": "list",
                "aria-expanded": "false",
                "aria-controls": "recipient-matches",
            }
        ),
    )
    prospect = forms.ModelChoiceField(queryset=None, required=False, widget=forms.HiddenInput)
    # One of the matches the server listed (the page without its script).
    pick = forms.ModelChoiceField(queryset=None, required=False, widget=forms.RadioSelect)
    template = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=_("No template (write it here)")
    )
    # No max_length: a browser would cut a pasted text at it without a word; the limits are
    # checked in clean_subject / clean_body, with the limit in the error.
    subject = forms.CharField(label=_("Subject"))
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 12}))
    send_at = ZonedDateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.matches: list[Prospect] = []
        self.fields["prospect"].queryset = prospect_list(user=user)
        self.fields["pick"].queryset = self.fields["prospect"].queryset
        self.fields["template"].queryset = template_list(user=user)
        self.zone = user_zone(user)
        send_at = self.fields["send_at"]
        send_at.zone = self.zone
        send_at.label = gettext("Send at (%(zone)s)") % {"zone": self.zone.key}
        send_at.help_text = gettext("In %(zone)s time. Leave empty to send now.") % {
            "zone": self.zone.key
        }
        for name, limit in (("subject", MAX_SUBJECT_CHARS), ("body", MAX_BODY_CHARS)):
            self.fields[name].help_text = _limit_help(limit)

    def recipient_search(self, query: str) -> list[Prospect]:
        """The prospects "To" finds for `query`: an exact address first, else up to
        RECIPIENT_MATCHES by name, company or address (kept in `matches` for the page)."""
        query = query.strip()
        if not query:
            return []
        prospects = prospect_list(user=self.user)
        exact = list(prospects.filter(email__iexact=query)[:1])
        found = exact or list(
            prospect_list(user=self.user, search=query, sort="name")[: RECIPIENT_MATCHES + 1]
        )
        self.matches = found[:RECIPIENT_MATCHES]
        return found

    def clean(self):
        cleaned = super().clean()
        if "prospect" in self.errors or "pick" in self.errors:
            return cleaned
        prospect, query = cleaned.get("prospect"), cleaned.get("to", "").strip()
        if prospect is not None and query and query != recipient_label(prospect):
            prospect = None  # the rep typed something else since the pick
        prospect = cleaned.get("pick") or prospect
        if prospect is None:
            found = self.recipient_search(query)
            if len(found) == 1:
                prospect = found[0]
                self.matches = []
            elif not query:
                self.add_error("to", gettext("Type a prospect's name, company or address."))
            elif not found:
                self.add_error(
                    "to", gettext("No prospect of yours matches “%(query)s”.") % {"query": query}
                )
            elif len(found) > RECIPIENT_MATCHES:
                self.add_error(
                    "to",
                    gettext("more than %(count)s prospects match “%(query)s”: pick one.")
                    % {"count": len(self.matches), "query": query},
                )
            else:
                self.add_error(
                    "to",
                    ngettext(
                        "%(count)s prospect matches “%(query)s”: pick one.",
                        "%(count)s prospects match “%(query)s”: pick one.",
                        len(self.matches),
                    )
                    % {"count": len(self.matches), "query": query},
                )
        cleaned["prospect"] = prospect
        if prospect is not None:
            # The page shows the pick from now on, as the script would have.
            cleaned["to"] = recipient_label(prospect)
            self.data = self.data.copy()
            self.data[self.add_prefix("to")] = cleaned["to"]
            self.data[self.add_prefix("prospect")] = str(prospect.pk)
            self.data.pop(self.add_prefix("pick"), None)
        return cleaned

    def clean_subject(self):
        return _refuse_problem(self.cleaned_data["subject"], subject_problem)

    def clean_body(self):
        return _refuse_problem(self.cleaned_data["body"], body_problem)

    def clean_send_at(self):
        """An aware UTC time, or None for "now". A time already past in the organization's
        zone is refused rather than sent at once: the person meant a later moment."""
        send_at = self.cleaned_data.get("send_at")
        if send_at is None:
            return None
        now = timezone.now()
        if send_at <= now:
            local_now = timezone.localtime(now, self.zone)
            raise forms.ValidationError(
                gettext(
                    "%(when)s has already passed in %(zone)s (it is %(now)s there). Pick a "
                    "later time, or leave it empty to send now."
                )
                % {
                    "when": f"{send_at.astimezone(self.zone):%Y-%m-%d %H:%M}",
                    "zone": self.zone.key,
                    "now": f"{local_now:%Y-%m-%d %H:%M}",
                }
            )
        if problem := compose_send_at_problem(send_at):
            raise forms.ValidationError(problem)
        return send_at.astimezone(UTC)


class EnrollForm(forms.Form):
    prospects = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, required=False
    )
    everyone_matching = forms.BooleanField(required=False)
    q = forms.CharField(required=False)

    def __init__(self, *args, user: User, search: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prospects"].queryset = prospect_list(user=user, search=search)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial=_("Outlook plug-in"), label=_("Name"))


class _OwnerChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.email


def _owner_field(user: User) -> forms.ModelChoiceField:
    return _OwnerChoice(
        queryset=user_list_visible(user=user).order_by("email"),
        initial=user.pk,
        empty_label=None,
        label=_("Owner"),
        help_text=_("The rep who works this prospect."),
    )


class ProspectForm(forms.ModelForm):
    """Add or edit a prospect. Managers and admins pick the owner among their team; a rep's
    prospects are their own."""

    class Meta:
        model = Prospect
        fields = ["email", "first_name", "last_name", "company", "title"]
        labels = {
            "email": _("Email"),
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "company": _("Company"),
            "title": _("Title"),
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        if user.role != User.Role.REP:
            self.fields["owner"] = _owner_field(user)
            if self.instance.pk and self.instance.owner_id:
                self.fields["owner"].initial = self.instance.owner_id

    def _post_clean(self):
        # Uniqueness and the model's checks are the service's (prospect_create / _update).
        pass


class ProspectImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=format_lazy(
            _("The first row names the columns; one prospect per row. At most {size} MB, UTF-8."),
            size=MAX_FILE_BYTES // 1024 // 1024,
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class ProspectImportMappingForm(forms.Form):
    """Which column fills which prospect field, what to do with known addresses, who owns the
    new prospects."""

    on_duplicate = forms.ChoiceField(
        label=_("Addresses that are already prospects"),
        choices=ProspectImport.OnDuplicate.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, prospect_import: ProspectImport, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [("", gettext("— not in the file —"))] + [
            (str(index), heading or gettext("Column %(number)s") % {"number": index + 1})
            for index, heading in enumerate(prospect_import.headers)
        ]
        for field, label in IMPORT_FIELDS.items():
            initial = prospect_import.mapping.get(field)
            self.fields[f"column_{field}"] = forms.ChoiceField(
                label=gettext(label),
                choices=columns,
                required=field == "email",
                initial="" if initial is None else str(initial),
            )
        self.fields["on_duplicate"].initial = prospect_import.on_duplicate
        if user.role != User.Role.REP:
            self.fields["owner"] = _owner_field(user)
            self.fields["owner"].help_text = gettext("Who the new prospects belong to.")

    def mapping(self) -> dict[str, int]:
        return {
            field: int(self.cleaned_data[f"column_{field}"])
            for field in IMPORT_FIELDS
            if self.cleaned_data.get(f"column_{field}") not in (None, "")
        }


class TemplateForm(forms.Form):
    FORMATS = [("text", _("Plain text")), ("html", _("HTML (sent with a plain-text alternative)"))]

    name = forms.CharField(max_length=200, label=_("Name"))
    subject = forms.CharField(label=_("Subject"))
    format = forms.ChoiceField(choices=FORMATS, initial="text", widget=forms.RadioSelect)
    body = forms.CharField(
        label=_("Body"),
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_(
            "HTML keeps paragraphs, line breaks, bold, italics, lists, headings, quotes and "
            "links; anything else (scripts, styles, images) is removed when you save."
        ),
    )
    is_shared = forms.BooleanField(
        required=False, label=_("Share with my organization (others can use and duplicate it)")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].help_text = _limit_help(MAX_SUBJECT_CHARS)

    @classmethod
    def initial_for(cls, template) -> dict:
        return {
            "name": template.name,
            "subject": template.subject,
            "format": "html" if template.body_html else "text",
            "body": template.body_html or template.body,
            "is_shared": template.is_shared,
        }

    def content(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "subject": data["subject"],
            "body": data["body"],
            "is_html": data["format"] == "html",
            "is_shared": data["is_shared"],
        }


class SignatureForm(forms.Form):
    signature = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        label=_("Signature"),
        help_text=_(
            "Plain text, added under a “-- ” line to every email you send from Mailroom "
            "(compose and campaigns; the plug-ins use your mail client's own signature)."
        ),
    )


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))


class StepForm(forms.Form):
    """A campaign step: the template it sends and how long it waits after the previous step
    (the first step: after enrollment)."""

    template = forms.ModelChoiceField(queryset=None, empty_label=_("Choose a template…"))
    days = forms.IntegerField(min_value=0, max_value=365, initial=2, label=_("Wait (days)"))
    hours = forms.IntegerField(min_value=0, max_value=23, initial=0, label=_("and hours"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = template_list(user=user).order_by("name")

    @classmethod
    def initial_for(cls, step) -> dict:
        return {
            "template": step.template_id,
            "days": step.delay.days,
            "hours": step.delay.seconds // 3600,
        }

    def delay(self) -> timedelta:
        return timedelta(days=self.cleaned_data["days"], hours=self.cleaned_data["hours"])


class ProspectsEnrollForm(forms.Form):
    """Enroll prospects picked on the prospects list (or everyone the list's filters match)."""

    campaign = forms.ModelChoiceField(queryset=None, empty_label=_("Choose a campaign…"))
    prospects = forms.ModelMultipleChoiceField(queryset=None, required=False)
    everyone_matching = forms.BooleanField(required=False)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = campaign_list(user=user).exclude(
            status=Campaign.Status.ARCHIVED
        )
        self.fields["prospects"].queryset = prospect_list(user=user)
