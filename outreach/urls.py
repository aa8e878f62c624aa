from django.urls import path

from . import views

urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("prospects/", views.prospects, name="prospects"),
    path("prospects/<int:pk>/", views.prospect_detail, name="prospect_detail"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:pk>/", views.template_detail, name="template_detail"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
]
