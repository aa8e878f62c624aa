from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def apply_google_endpoints(**kwargs) -> None:
    """allauth's Google adapter copies its endpoint URLs from settings when first imported;
    re-apply them from SOCIALACCOUNT_PROVIDERS at start-up and whenever that setting changes
    (a test pointing the endpoints at a sandbox on a random port)."""
    setting = kwargs.get("setting")
    if setting is not None and setting != "SOCIALACCOUNT_PROVIDERS":
        return
    from allauth.socialaccount.providers.google import views as google_views
    from django.conf import settings

    google = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {}).get("google", {})
    adapter = google_views.GoogleOAuth2Adapter
    for setting_name, module_name, attribute in (
        ("AUTHORIZE_URL", "AUTHORIZE_URL", "authorize_url"),
        ("ACCESS_TOKEN_URL", "ACCESS_TOKEN_URL", "access_token_url"),
        ("IDENTITY_URL", "IDENTITY_URL", "identity_url"),
        ("ID_TOKEN_ISSUER", "ID_TOKEN_ISSUER", "id_token_issuer"),
        ("CERTS_URL", "CERTS_URL", None),
    ):
        if setting_name in google:
            setattr(google_views, module_name, google[setting_name])
            if attribute:
                setattr(adapter, attribute, google[setting_name])


def disconnect_channel_of_removed_account(sender, request, socialaccount, **kwargs) -> None:
    """A connection removed through allauth's own page disconnects the mailbox too."""
    from .models import DeliveryChannel
    from .services import channel_disconnect

    channels = DeliveryChannel.objects.filter(
        owner_id=socialaccount.user_id,
        provider_account_id=socialaccount.uid,
        kind__in=DeliveryChannel.POLLED_KINDS,
    ).exclude(status=DeliveryChannel.Status.DISCONNECTED)
    for channel in channels:
        channel_disconnect(user=socialaccount.user, channel=channel)


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = _("Delivery channels")

    def ready(self) -> None:
        from allauth.socialaccount.signals import social_account_removed
        from django.test.signals import setting_changed

        from core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                name="Renew Gmail push notifications",
                task="channels_app.tasks.channels_push_renew_due",
                every_seconds=3600,
                description="Starts Gmail push (users.watch) where it is missing and renews "
                "watches that end within a day (Gmail's last 7 days).",
            )
        )
        register(
            PeriodicTaskSpec(
                name="Re-check sending domains",
                task="channels_app.tasks.sending_domains_recheck",
                every_seconds=6 * 3600,
                description="SPF, DKIM, DMARC and MX of every connected channel's From domain; "
                "a change goes to the organization admins' live feed.",
            )
        )
        apply_google_endpoints()
        setting_changed.connect(apply_google_endpoints, dispatch_uid="mailroom_google_endpoints")
        social_account_removed.connect(
            disconnect_channel_of_removed_account, dispatch_uid="mailroom_social_removed"
        )
