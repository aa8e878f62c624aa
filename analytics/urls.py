from django.urls import path

from . import views

urlpatterns = [
    path("analytics/", views.dashboard, name="analytics"),
    path("analytics/templates/", views.templates, name="analytics_templates"),
    path("analytics/templates/<int:pk>/", views.template_detail, name="analytics_template_detail"),
    path("analytics/campaigns/", views.campaigns, name="analytics_campaigns"),
    path("analytics/campaigns/<int:pk>/", views.campaign_detail, name="analytics_campaign_detail"),
    path("feed/", views.feed, name="feed"),
    path("feed/events/", views.feed_events, name="feed_events"),
    path("feed/<int:pk>/read/", views.feed_read, name="feed_read"),
    path("feed/read-all/", views.feed_read_all, name="feed_read_all"),
]
