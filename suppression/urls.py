from django.urls import path

from . import views

urlpatterns = [
    path("suppressions/", views.suppressions, name="suppressions"),
    path("suppressions/<int:pk>/remove/", views.suppression_delete, name="suppression_remove"),
    path("suppressions/settings/", views.suppression_policy_edit, name="suppression_policy"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("feed/<int:pk>/confirm-removal/", views.removal_confirm, name="removal_confirm"),
]
