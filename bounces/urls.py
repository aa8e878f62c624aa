from django.urls import path

from . import views, webhook_views

urlpatterns = [
    path("bounces/", views.bounces, name="bounces"),
    path("bounces/channels/<int:pk>/resume/", views.channel_resume, name="bounces_channel_resume"),
    path("webhooks/esp/<str:key>/", webhook_views.esp_webhook, name="esp_webhook"),
    path("webhooks/gmail/push/", webhook_views.gmail_push, name="gmail_push"),
    path("webhooks/graph/notify/", webhook_views.graph_notify, name="graph_notify"),
    path("webhooks/graph/lifecycle/", webhook_views.graph_lifecycle, name="graph_lifecycle"),
    path("webhooks/ews/", webhook_views.ews_push, name="ews_push"),
    path("bounces/channels/<int:pk>/poll/", views.channel_poll_now, name="bounces_channel_poll"),
]
