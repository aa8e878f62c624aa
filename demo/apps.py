from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organizations, users, prospects, templates and history that `make run` loads
    (`manage.py seed_demo`). It sits above every app it fills, so `core` stays the bottom layer."""

    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
