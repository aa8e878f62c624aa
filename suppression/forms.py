from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Suppression, SuppressionPolicy

MANUAL_REASONS = [
    (Suppression.Reason.MANUAL, _("Do not contact")),
    (Suppression.Reason.UNSUBSCRIBED, _("Unsubscribed (asked by email or phone)")),
    (Suppression.Reason.COMPLAINED, _("Complained (spam report)")),
    (Suppression.Reason.HARD_BOUNCE, _("Hard bounce (known dead address)")),
]


class SuppressionAddForm(forms.Form):
    value = forms.CharField(
        label=_("Address or domain"),
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": _("ana@example.com or example.com")}),
    )
    reason = forms.ChoiceField(
        choices=MANUAL_REASONS, initial=Suppression.Reason.MANUAL, label=_("Reason")
    )
    detail = forms.CharField(label=_("Note"), max_length=500, required=False)


class SuppressionRemoveForm(forms.Form):
    reason = forms.CharField(
        label=_("Why may it be emailed again?"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. the prospect asked to hear from us")}),
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
