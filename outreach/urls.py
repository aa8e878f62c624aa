from django.urls import path

from . import api, views

urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/retry/", views.outbox_retry, name="outbox_retry"),
    path("outbox/<int:pk>/cancel/", views.outbox_cancel, name="outbox_cancel"),
    path("compose/", views.compose, name="compose"),
    path("prospects/", views.prospects, name="prospects"),
    path("prospects/new/", views.prospect_new, name="prospect_new"),
    path("prospects/export.csv", views.prospects_export, name="prospects_export"),
    path("prospects/import/", views.prospect_import_new, name="prospect_import_new"),
    path("prospects/imports/<int:pk>/", views.prospect_import, name="prospect_import"),
    path(
        "prospects/imports/<int:pk>/progress/",
        views.prospect_import_progress,
        name="prospect_import_progress",
    ),
    path(
        "prospects/imports/<int:pk>/rows-to-check.csv",
        views.prospect_import_issues,
        name="prospect_import_issues",
    ),
    path("prospects/<int:pk>/", views.prospect_detail, name="prospect_detail"),
    path("prospects/<int:pk>/edit/", views.prospect_edit, name="prospect_edit"),
    path("prospects/<int:pk>/delete/", views.prospect_remove, name="prospect_delete"),
    path("templates/", views.templates, name="templates"),
    path("templates/new/", views.template_new, name="template_new"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:pk>/", views.template_detail, name="template_detail"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/duplicate/", views.template_copy, name="template_duplicate"),
    path("templates/<int:pk>/delete/", views.template_remove, name="template_delete"),
    path("settings/profile/", views.profile, name="profile"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/enroll/", views.campaign_enroll, name="campaign_enroll"),
    path("enrollments/<int:pk>/", views.enrollment_toggle, name="enrollment_toggle"),
    path("settings/api-tokens/", views.api_tokens, name="api_tokens"),
    path("settings/api-tokens/<int:pk>/revoke/", views.api_token_delete, name="api_token_revoke"),
    path("api/v1/emails/", api.emails_create, name="api_emails"),
    path("api/v1/emails/<int:pk>/", api.email_detail, name="api_email_detail"),
]
