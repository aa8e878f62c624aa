"""The analytics triggers in the database follow the code: an edited definition replaces the
installed one (an edit must reach a database that already holds the old trigger), one the code
no longer defines is dropped, and an unchanged database is left alone."""

import pytest
from django.db import connection

from accounts.models import Organization
from analytics import triggers
from analytics.models import DirtyBucket
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

NAME_TOO = "OLD.timezone IS NOT NEW.timezone OR OLD.name IS NOT NEW.name"
NAME_TOO_PG = "OLD.timezone IS DISTINCT FROM NEW.timezone OR OLD.name IS DISTINCT FROM NEW.name"


def _organization_buckets(organization: Organization) -> int:
    return DirtyBucket.objects.filter(
        kind=DirtyBucket.Kind.ORGANIZATION, organization_id=organization.id
    ).count()


def _fire_on_name_change_too(monkeypatch) -> None:
    """Edit the organization trigger as a later release might: it fires on a rename too."""
    if connection.vendor == "postgresql":
        old = "WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)"
        assert old in triggers.PG_TRIGGERS
        monkeypatch.setattr(
            triggers, "PG_TRIGGERS", triggers.PG_TRIGGERS.replace(old, f"WHEN ({NAME_TOO_PG})")
        )
    else:
        old = "WHEN OLD.timezone IS NOT NEW.timezone"
        edited = [sql.replace(old, f"WHEN {NAME_TOO}") for sql in triggers.SQLITE_TRIGGERS]
        assert edited != triggers.SQLITE_TRIGGERS
        monkeypatch.setattr(triggers, "SQLITE_TRIGGERS", edited)


@pytest.fixture
def restore_triggers():
    """Put back the code's own definitions; asked for before monkeypatch, so it runs after
    monkeypatch has undone the edit."""
    yield
    triggers.triggers_install()


def test_an_unchanged_database_is_left_alone():
    assert triggers.triggers_install() == []


def test_an_edited_trigger_replaces_the_installed_one(restore_triggers, monkeypatch):
    organization = OrganizationFactory()
    organization.name = "Renamed before the edit"
    organization.save()
    assert _organization_buckets(organization) == 0  # today's trigger ignores renames

    _fire_on_name_change_too(monkeypatch)
    assert triggers.triggers_install() == ["analytics_organization_update"]

    organization.name = "Renamed after the edit"
    organization.save()
    assert _organization_buckets(organization) == 1
    assert triggers.triggers_install() == []  # now the installed one is the edited one

    monkeypatch.undo()
    assert triggers.triggers_install() == ["analytics_organization_update"]
    organization.name = "Renamed once the edit is reverted"
    organization.save()
    assert _organization_buckets(organization) == 1


def test_a_trigger_the_code_no_longer_defines_is_dropped(restore_triggers):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE TRIGGER analytics_obsolete AFTER UPDATE ON accounts_organization"
                " FOR EACH ROW EXECUTE FUNCTION analytics_organization_changed()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER analytics_obsolete AFTER UPDATE ON accounts_organization"
                " BEGIN INSERT INTO analytics_dirtybucket (kind, organization_id)"
                " VALUES ('organization', NEW.id); END"
            )
    assert triggers.triggers_install() == ["analytics_obsolete"]
    organization = OrganizationFactory()
    organization.name = "Renamed"
    organization.save()
    assert _organization_buckets(organization) == 0


def test_an_edited_function_replaces_the_installed_one(restore_triggers, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("trigger functions are a PostgreSQL object; SQLite triggers carry their body")
    edited = triggers.PG_FUNCTIONS.replace(
        "VALUES ('organization', NEW.id);",
        "VALUES ('organization', NEW.id), ('organization', NEW.id);",
    )
    assert edited != triggers.PG_FUNCTIONS
    monkeypatch.setattr(triggers, "PG_FUNCTIONS", edited)
    assert triggers.triggers_install() == ["analytics_organization_changed"]
    organization = OrganizationFactory()
    organization.timezone = "Asia/Seoul" if organization.timezone != "Asia/Seoul" else "UTC"
    organization.save()
    assert _organization_buckets(organization) == 2
