from django import forms

from .models import Suppression, SuppressionPolicy

MANUAL_REASONS = [
    (Suppression.Reason.MANUAL, "Do not contact"),
    (Suppression.Reason.UNSUBSCRIBED, "Unsubscribed (asked by email or phone)"),
    (Suppression.Reason.COMPLAINED, "Complained (spam report)"),
    (Suppression.Reason.HARD_BOUNCE, "Hard bounce (known dead address)"),
]


class SuppressionAddForm(forms.Form):
    value = forms.CharField(
        label="Address or domain",
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": "ana@example.com or example.com"}),
    )
    reason = forms.ChoiceField(choices=MANUAL_REASONS, initial=Suppression.Reason.MANUAL)
    detail = forms.CharField(label="Note", max_length=500, required=False)


class SuppressionRemoveForm(forms.Form):
    reason = forms.CharField(
        label="Why may it be emailed again?",
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "e.g. the prospect asked to hear from us"}),
    )


class SuppressionPolicyForm(forms.ModelForm):
    class Meta:
        model = SuppressionPolicy
        fields = [
            "soft_bounce_limit",
            "soft_bounce_window_days",
            "complaint_rate_limit",
            "unsubscribe_header_one_off",
        ]
