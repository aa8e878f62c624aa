"""Fixtures shared by the whole suite."""

import pytest

from accounts.models import User
from tests.browser import page  # noqa: F401  (the browser tests' fixture)
from tests.factories import OrganizationFactory, TeamFactory, UserFactory


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme Sales", slug="acme")


@pytest.fixture
def team(org):
    return TeamFactory(organization=org, name="East")


@pytest.fixture
def rep(org, team):
    return UserFactory(organization=org, team=team, role=User.Role.REP, email="rep@acme.test")


@pytest.fixture
def manager(org, team):
    user = UserFactory(organization=org, team=team, role=User.Role.MANAGER, email="mgr@acme.test")
    team.manager = user
    team.save(update_fields=["manager"])
    return user


@pytest.fixture
def org_admin(org):
    return UserFactory(
        organization=org, role=User.Role.ADMIN, email="admin@acme.test", is_staff=True
    )


@pytest.fixture
def other_org_user(db):
    """A user of another organization: must never see Acme's data."""
    other = OrganizationFactory(name="Globex", slug="globex")
    return UserFactory(organization=other, role=User.Role.ADMIN, email="admin@globex.test")


@pytest.fixture(scope="session")
def sandbox_session(django_test_environment):
    """The local sandbox (fake Google, Microsoft, SMTP), started once for the whole run, with
    every provider setting (and allauth's endpoints) pointed at it for the session."""
    from django.conf import settings
    from django.test import override_settings

    from config.settings.base import mailroom_socialaccount_providers
    from sandbox.server import start_sandbox

    running = start_sandbox()
    values = running.settings()
    namespace = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    namespace.update(values)
    overrides = override_settings(
        **values,
        SOCIALACCOUNT_PROVIDERS=mailroom_socialaccount_providers(namespace),
        MAILROOM_LEGACY_SMTP_HOST=running.smtp_host,
        MAILROOM_LEGACY_SMTP_PORT=running.smtp_port,
        MAILROOM_LEGACY_SMTP_SECURITY="none",
        MAILROOM_LEGACY_SMTP_USERNAME="mailroom",
        MAILROOM_LEGACY_SMTP_PASSWORD="sandbox",
    )
    overrides.enable()
    yield running
    overrides.disable()
    running.stop()


@pytest.fixture
def sandbox(sandbox_session):
    """The session's sandbox with its state (mailboxes, grants, faults, SMTP mail) reset for
    this test. `sandbox.client` is the control client; SMTP user mailroom / sandbox."""
    sandbox_session.client.reset()
    return sandbox_session
