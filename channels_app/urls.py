from django.urls import path

from . import views

urlpatterns = [
    path("", views.email_settings, name="email_settings"),
    path("smtp/<str:scope>/", views.smtp_save, name="channel_smtp_save"),
    path("exchange/", views.exchange_onprem_save, name="channel_exchange_onprem_save"),
    path("choose/", views.choose, name="channel_choose"),
    path("channels/<int:channel_id>/disconnect/", views.disconnect, name="channel_disconnect"),
    path("channels/<int:channel_id>/webhook/", views.esp_webhook_save, name="channel_esp_webhook"),
    path("channels/<int:channel_id>/imap/", views.imap_save, name="channel_imap_save"),
    path("channels/<int:channel_id>/imap/off/", views.imap_off, name="channel_imap_off"),
    path(
        "channels/<int:channel_id>/domain-check/",
        views.domain_check_now,
        name="channel_domain_check",
    ),
    path("channels/<int:channel_id>/reconnect/", views.reconnect, name="channel_reconnect"),
]
