from django.urls import path

from . import views

urlpatterns = [
    path("bounces/", views.bounces, name="bounces"),
    path("bounces/channels/<int:pk>/resume/", views.channel_resume, name="bounces_channel_resume"),
    path("bounces/channels/<int:pk>/poll/", views.channel_poll_now, name="bounces_channel_poll"),
]
