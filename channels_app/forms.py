from django import forms

from .models import DeliveryChannel

# Gmail and Exchange Online are connected with "Connect" (OAuth), never with SMTP credentials.
MAILBOX_PROVIDER_SMTP_HOSTS = {
    "smtp.gmail.com": "Gmail",
    "smtp.googlemail.com": "Gmail",
    "smtp-relay.gmail.com": "Gmail",
    "smtp.office365.com": "Outlook",
    "smtp-mail.outlook.com": "Outlook",
    "outlook.office365.com": "Outlook",
}


class SmtpChannelForm(forms.Form):
    host = forms.CharField(max_length=255, help_text="e.g. smtp.sendgrid.net")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=587)
    security = forms.ChoiceField(
        choices=DeliveryChannel.Security.choices, initial=DeliveryChannel.Security.STARTTLS
    )
    username = forms.CharField(max_length=255, required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=False
    )
    from_domain = forms.CharField(
        max_length=255, required=False, help_text="The domain your mail is sent from."
    )

    def __init__(self, *args, has_password: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_password = has_password
        if has_password:
            self.fields["password"].help_text = "Leave empty to keep the saved password."

    def clean_host(self) -> str:
        host = self.cleaned_data["host"].strip().lower()
        provider = MAILBOX_PROVIDER_SMTP_HOSTS.get(host)
        if provider:
            raise forms.ValidationError(
                f"{provider} cannot be connected with SMTP credentials: use "
                f"“Connect {provider}” above."
            )
        return host

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("username") and not cleaned.get("password") and not self.has_password:
            self.add_error("password", "Enter the password for this username.")
        return cleaned


class ExchangeOnPremForm(forms.Form):
    email_address = forms.EmailField(label="Mailbox address")
    ews_url = forms.URLField(
        label="EWS URL",
        required=False,
        max_length=500,
        help_text="e.g. https://mail.example.com/EWS/Exchange.asmx. Leave empty to use "
        "Autodiscover.",
    )
    username = forms.CharField(
        max_length=255, required=False, help_text="DOMAIN\\user or user@domain; empty = address."
    )
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=False
    )
    daily_limit = forms.IntegerField(
        min_value=1, required=False, help_text="Messages per day your IT allows (optional)."
    )
    per_minute_limit = forms.IntegerField(
        min_value=1, required=False, help_text="Messages per minute (optional)."
    )

    def __init__(self, *args, has_password: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_password = has_password
        if has_password:
            self.fields["password"].help_text = "Leave empty to keep the saved password."

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("password") and not self.has_password:
            self.add_error("password", "Enter the mailbox password.")
        return cleaned
