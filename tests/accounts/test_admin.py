"""Every model is in the Django admin, and its list and add pages render."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import (
    CampaignStepFactory,
    DeliveryChannelFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    UserFactory,
)


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@mailroom.test")


def test_every_project_model_is_registered():
    from django.apps import apps

    project_apps = {"core", "accounts", "outreach", "channels_app", "bounces", "analytics"}
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in project_apps and model not in admin.site._registry
    ]
    assert missing == []


def test_every_changelist_and_add_page_renders(client, superuser):
    step = CampaignStepFactory()
    EnrollmentFactory(campaign=step.campaign)
    OutboundEmailFactory(sender=step.campaign.owner)
    DeliveryChannelFactory(owner=step.campaign.owner, refresh_token="secret-refresh-token")
    client.force_login(superuser)
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code == 200, changelist
        assert b"secret-refresh-token" not in response.content
        if model_admin.has_add_permission(response.wsgi_request):
            add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
            assert client.get(add).status_code == 200, add
