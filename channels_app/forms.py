from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import DeliveryChannel
from .providers.imap import DEFAULT_PORTS
from .selectors import SERVER_CHANGED_TYPE_AGAIN, ews_server, smtp_server

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
    host = forms.CharField(max_length=255, label=_("Host"), help_text=_("e.g. smtp.sendgrid.net"))
    port = forms.IntegerField(min_value=1, max_value=65535, initial=587, label=_("Port"))
    security = forms.ChoiceField(
        choices=DeliveryChannel.Security.choices,
        initial=DeliveryChannel.Security.STARTTLS,
        label=_("Security"),
    )
    username = forms.CharField(max_length=255, required=False, label=_("Username"))
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        label=_("Password"),
    )
    from_domain = forms.CharField(
        max_length=255,
        required=False,
        label=_("From domain"),
        help_text=_("The domain your mail is sent from."),
    )

    def __init__(self, *args, saved: DeliveryChannel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = saved if saved is not None and saved.password else None
        self.has_password = self.saved is not None
        if self.has_password:
            self.fields["password"].help_text = gettext(
                "Leave empty to keep the saved password (same host, port and security only)."
            )

    def clean_host(self) -> str:
        host = self.cleaned_data["host"].strip().lower()
        provider = MAILBOX_PROVIDER_SMTP_HOSTS.get(host)
        if provider:
            raise forms.ValidationError(
                gettext(
                    "%(provider)s cannot be connected with SMTP credentials: use “Connect "
                    "%(provider)s” above."
                )
                % {"provider": provider}
            )
        return host

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("username") and not cleaned.get("password"):
            if not self.has_password:
                self.add_error("password", gettext("Enter the password for this username."))
            elif (
                "host" in cleaned
                and "port" in cleaned
                and smtp_server(cleaned["host"], cleaned["port"], cleaned.get("security", ""))
                != smtp_server(self.saved.host, self.saved.port, self.saved.security)
            ):
                self.add_error("password", gettext(SERVER_CHANGED_TYPE_AGAIN))
        return cleaned


class ExchangeOnPremForm(forms.Form):
    email_address = forms.EmailField(label=_("Mailbox address"))
    ews_url = forms.URLField(
        label=_("EWS URL"),
        required=False,
        max_length=500,
        help_text=_(
            "e.g. https://mail.example.com/EWS/Exchange.asmx. Leave empty to use Autodiscover."
        ),
    )
    username = forms.CharField(
        max_length=255,
        required=False,
        label=_("Username"),
        help_text=_("DOMAIN\\user or user@domain; empty = address."),
    )
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        label=_("Password"),
    )
    daily_limit = forms.IntegerField(
        min_value=1,
        required=False,
        label=_("Daily limit"),
        help_text=_("Messages per day your IT allows (optional)."),
    )
    per_minute_limit = forms.IntegerField(
        min_value=1,
        required=False,
        label=_("Per minute limit"),
        help_text=_("Messages per minute (optional)."),
    )

    def __init__(self, *args, saved: DeliveryChannel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = saved if saved is not None and saved.password else None
        self.has_password = self.saved is not None
        if self.has_password:
            self.fields["password"].help_text = gettext(
                "Leave empty to keep the saved password (same EWS URL only)."
            )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("password"):
            if not self.has_password:
                self.add_error("password", gettext("Enter the mailbox password."))
            elif "ews_url" in cleaned:
                target = ews_server(cleaned["ews_url"])
                if target is None or target != ews_server(self.saved.ews_url):
                    self.add_error("password", gettext(SERVER_CHANGED_TYPE_AGAIN))
        return cleaned


class EspWebhookForm(forms.Form):
    esp = forms.ChoiceField(
        label=_("Email service"),
        choices=[("", _("None — no bounce webhook")), *DeliveryChannel.Esp.choices],
        required=False,
        help_text=_(
            "The service behind this SMTP server. Mailroom gives you a webhook URL to paste "
            "into it, and it reports bounces, spam complaints and unsubscribes there."
        ),
    )
    signing_key = forms.CharField(
        label=_("Webhook signing key"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Mailgun only: the HTTP webhook signing key Mailgun shows you."),
    )


class ImapSettingsForm(forms.Form):
    """The IMAP inbox of an SMTP channel: where its bounces and replies arrive."""

    imap_host = forms.CharField(
        label=_("IMAP server"), max_length=255, help_text=_("e.g. imap.example.com")
    )
    imap_port = forms.IntegerField(
        label=_("Port"),
        min_value=1,
        max_value=65535,
        required=False,
        help_text=_("Empty: 993 for SSL/TLS, 143 otherwise."),
    )
    imap_security = forms.ChoiceField(
        label=_("Security"),
        choices=DeliveryChannel.Security.choices,
        initial=DeliveryChannel.Security.SSL,
    )
    imap_username = forms.CharField(
        label=_("Username"),
        max_length=255,
        required=False,
        help_text=_("Empty: the SMTP username."),
    )
    imap_password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
    )
    imap_folder = forms.CharField(
        label=_("Folder"),
        max_length=255,
        initial="INBOX",
        help_text=_("Where bounces arrive; INBOX unless your server files them elsewhere."),
    )

    def __init__(self, *args, saved: DeliveryChannel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = saved if saved is not None and saved.has_imap and saved.imap_password else None
        if self.saved is not None:
            self.fields["imap_password"].help_text = gettext(
                "Leave empty to keep the saved password (same server, port and security only)."
            )

    def clean_imap_host(self) -> str:
        return self.cleaned_data["imap_host"].strip().lower()

    def clean_imap_folder(self) -> str:
        folder = self.cleaned_data["imap_folder"].strip() or "INBOX"
        if not folder.isascii() or any(ord(c) < 32 for c in folder):
            raise forms.ValidationError(
                gettext(
                    "Type the folder's name as the server lists it, in plain ASCII (e.g. INBOX)."
                )
            )
        return folder

    def clean(self):
        cleaned = super().clean()
        if "imap_security" in cleaned and not cleaned.get("imap_port"):
            cleaned["imap_port"] = DEFAULT_PORTS[cleaned["imap_security"]]
        if cleaned.get("imap_password") or "imap_host" not in cleaned:
            return cleaned
        if self.saved is None:
            self.add_error("imap_password", gettext("Enter the password of this mailbox."))
        elif smtp_server(
            cleaned["imap_host"], cleaned.get("imap_port"), cleaned.get("imap_security", "")
        ) != smtp_server(self.saved.imap_host, self.saved.imap_port, self.saved.imap_security):
            self.add_error("imap_password", gettext(SERVER_CHANGED_TYPE_AGAIN))
        return cleaned
