from django import forms
from django.utils import timezone

from accounts.models import User

from .selectors import prospect_list, template_list


class ComposeForm(forms.Form):
    prospect = forms.ModelChoiceField(queryset=None, empty_label="Choose a prospect…")
    template = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="No template (write it here)"
    )
    subject = forms.CharField(max_length=998)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}))
    send_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty to send now (UTC).",
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prospect"].queryset = prospect_list(user=user)
        self.fields["template"].queryset = template_list(user=user)

    def clean_send_at(self):
        send_at = self.cleaned_data.get("send_at")
        if send_at is not None and send_at <= timezone.now():
            raise forms.ValidationError("Pick a time in the future, or leave it empty to send now.")
        return send_at


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
    name = forms.CharField(max_length=100, initial="Outlook plug-in")
