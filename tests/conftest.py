"""Fixtures shared by the whole suite."""

import pytest

from accounts.models import User
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
