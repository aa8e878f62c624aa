"""Database triggers that queue analytics rollup refreshes (see DirtyBucket).

Analytics must stay correct without hooks in the send pipeline or the bounce poller, and
OutboundEmail.updated_at is not a dependable change marker: save(update_fields=[...]) without
"updated_at" and QuerySet.update() leave it untouched. Triggers see every write path (ORM
save, update(), bulk_create, raw SQL, COPY), so each change that can move a figure queues the
bucket it belongs to in analytics_dirtybucket:

- an outbound email inserted, deleted, or updated in sent_at / bounced_at / replied_at / status /
  template / step / sender / organization: its sender's day (old and new). The day is that of
  sent_at, or of bounced_at for an email the SMTP server refused at send time (never sent);
- a bounce inserted, deleted, re-tied to another email or re-classified (hard/soft, delayed):
  the day of the email it belongs to;
- an enrollment inserted, deleted, or changing state / sender / campaign: that
  (campaign, sender) pair;
- an organization's time zone changed: the whole organization.

They are installed after every `migrate` (post_migrate, see AnalyticsConfig) rather than by a
migration: SQLite drops a table's triggers when a migration rebuilds the table, and refuses to
rebuild a table other triggers refer to. So on SQLite they are dropped before `migrate` and put
back after it, with a full recount queued in case something changed meanwhile. On PostgreSQL
they survive schema changes; each carries a fingerprint of its definition, so an edited trigger
or function replaces the installed one at the next `migrate` (see triggers_install).
"""

import hashlib
from dataclasses import dataclass

from django.db import connections

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION analytics_email_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND COALESCE(OLD.sent_at, OLD.bounced_at) IS NOT NULL THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
        VALUES ('email', OLD.organization_id, OLD.sender_id, COALESCE(OLD.sent_at, OLD.bounced_at));
    END IF;
    IF TG_OP <> 'DELETE' AND COALESCE(NEW.sent_at, NEW.bounced_at) IS NOT NULL AND (
        TG_OP = 'INSERT'
        OR (NEW.organization_id, NEW.sender_id, COALESCE(NEW.sent_at, NEW.bounced_at))
            IS DISTINCT FROM
            (OLD.organization_id, OLD.sender_id, COALESCE(OLD.sent_at, OLD.bounced_at))
    ) THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
        VALUES ('email', NEW.organization_id, NEW.sender_id, COALESCE(NEW.sent_at, NEW.bounced_at));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION analytics_bounce_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.outbound_email_id IS NOT NULL THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
        SELECT 'email', e.organization_id, e.sender_id, COALESCE(e.sent_at, e.bounced_at)
        FROM outreach_outboundemail e
        WHERE e.id = OLD.outbound_email_id AND COALESCE(e.sent_at, e.bounced_at) IS NOT NULL;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.outbound_email_id IS NOT NULL THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
        SELECT 'email', e.organization_id, e.sender_id, COALESCE(e.sent_at, e.bounced_at)
        FROM outreach_outboundemail e
        WHERE e.id = NEW.outbound_email_id AND COALESCE(e.sent_at, e.bounced_at) IS NOT NULL;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION analytics_enrollment_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, campaign_id)
        SELECT 'enrollment', c.organization_id, OLD.sender_id, OLD.campaign_id
        FROM outreach_campaign c WHERE c.id = OLD.campaign_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, campaign_id)
        SELECT 'enrollment', c.organization_id, NEW.sender_id, NEW.campaign_id
        FROM outreach_campaign c WHERE c.id = NEW.campaign_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION analytics_organization_changed() RETURNS trigger AS $$
BEGIN
    INSERT INTO analytics_dirtybucket (kind, organization_id) VALUES ('organization', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

PG_TRIGGERS = """
CREATE TRIGGER analytics_email_insert_delete
    AFTER INSERT OR DELETE ON outreach_outboundemail
    FOR EACH ROW EXECUTE FUNCTION analytics_email_changed();
CREATE TRIGGER analytics_email_update
    AFTER UPDATE ON outreach_outboundemail
    FOR EACH ROW WHEN (
        OLD.sent_at IS DISTINCT FROM NEW.sent_at
        OR OLD.bounced_at IS DISTINCT FROM NEW.bounced_at
        OR OLD.replied_at IS DISTINCT FROM NEW.replied_at
        OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.template_id IS DISTINCT FROM NEW.template_id
        OR OLD.campaign_step_id IS DISTINCT FROM NEW.campaign_step_id
        OR OLD.sender_id IS DISTINCT FROM NEW.sender_id
        OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
    ) EXECUTE FUNCTION analytics_email_changed();
CREATE TRIGGER analytics_bounce_insert_delete
    AFTER INSERT OR DELETE ON bounces_bounce
    FOR EACH ROW EXECUTE FUNCTION analytics_bounce_changed();
CREATE TRIGGER analytics_bounce_update
    AFTER UPDATE ON bounces_bounce
    FOR EACH ROW WHEN (
        OLD.outbound_email_id IS DISTINCT FROM NEW.outbound_email_id
        OR OLD.is_hard IS DISTINCT FROM NEW.is_hard
        OR OLD.is_delayed IS DISTINCT FROM NEW.is_delayed
    ) EXECUTE FUNCTION analytics_bounce_changed();
CREATE TRIGGER analytics_enrollment_insert_delete
    AFTER INSERT OR DELETE ON outreach_enrollment
    FOR EACH ROW EXECUTE FUNCTION analytics_enrollment_changed();
CREATE TRIGGER analytics_enrollment_update
    AFTER UPDATE ON outreach_enrollment
    FOR EACH ROW WHEN (
        OLD.state IS DISTINCT FROM NEW.state
        OR OLD.sender_id IS DISTINCT FROM NEW.sender_id
        OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
    ) EXECUTE FUNCTION analytics_enrollment_changed();
CREATE TRIGGER analytics_organization_update
    AFTER UPDATE ON accounts_organization
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION analytics_organization_changed();
"""

_SQLITE_EMAIL_OLD = """
    INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
    SELECT 'email', OLD.organization_id, OLD.sender_id, COALESCE(OLD.sent_at, OLD.bounced_at)
    WHERE COALESCE(OLD.sent_at, OLD.bounced_at) IS NOT NULL;"""
_SQLITE_EMAIL_NEW = """
    INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
    SELECT 'email', NEW.organization_id, NEW.sender_id, COALESCE(NEW.sent_at, NEW.bounced_at)
    WHERE COALESCE(NEW.sent_at, NEW.bounced_at) IS NOT NULL;"""
_SQLITE_BOUNCE = """
    INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, at)
    SELECT 'email', e.organization_id, e.sender_id, COALESCE(e.sent_at, e.bounced_at)
    FROM outreach_outboundemail e
    WHERE e.id = {row}.outbound_email_id AND COALESCE(e.sent_at, e.bounced_at) IS NOT NULL;"""
_SQLITE_ENROLLMENT = """
    INSERT INTO analytics_dirtybucket (kind, organization_id, sender_id, campaign_id)
    SELECT 'enrollment', c.organization_id, {row}.sender_id, {row}.campaign_id
    FROM outreach_campaign c WHERE c.id = {row}.campaign_id;"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER analytics_email_insert AFTER INSERT ON outreach_outboundemail
    BEGIN {_SQLITE_EMAIL_NEW} END;""",
    f"""CREATE TRIGGER analytics_email_delete AFTER DELETE ON outreach_outboundemail
    BEGIN {_SQLITE_EMAIL_OLD} END;""",
    f"""CREATE TRIGGER analytics_email_update AFTER UPDATE ON outreach_outboundemail
    WHEN OLD.sent_at IS NOT NEW.sent_at OR OLD.bounced_at IS NOT NEW.bounced_at
        OR OLD.replied_at IS NOT NEW.replied_at
        OR OLD.status IS NOT NEW.status OR OLD.template_id IS NOT NEW.template_id
        OR OLD.campaign_step_id IS NOT NEW.campaign_step_id
        OR OLD.sender_id IS NOT NEW.sender_id OR OLD.organization_id IS NOT NEW.organization_id
    BEGIN {_SQLITE_EMAIL_OLD} {_SQLITE_EMAIL_NEW} END;""",
    f"""CREATE TRIGGER analytics_bounce_insert AFTER INSERT ON bounces_bounce
    BEGIN {_SQLITE_BOUNCE.format(row="NEW")} END;""",
    f"""CREATE TRIGGER analytics_bounce_delete AFTER DELETE ON bounces_bounce
    BEGIN {_SQLITE_BOUNCE.format(row="OLD")} END;""",
    f"""CREATE TRIGGER analytics_bounce_update AFTER UPDATE ON bounces_bounce
    WHEN OLD.outbound_email_id IS NOT NEW.outbound_email_id OR OLD.is_hard IS NOT NEW.is_hard
        OR OLD.is_delayed IS NOT NEW.is_delayed
    BEGIN {_SQLITE_BOUNCE.format(row="OLD")} {_SQLITE_BOUNCE.format(row="NEW")} END;""",
    f"""CREATE TRIGGER analytics_enrollment_insert AFTER INSERT ON outreach_enrollment
    BEGIN {_SQLITE_ENROLLMENT.format(row="NEW")} END;""",
    f"""CREATE TRIGGER analytics_enrollment_delete AFTER DELETE ON outreach_enrollment
    BEGIN {_SQLITE_ENROLLMENT.format(row="OLD")} END;""",
    f"""CREATE TRIGGER analytics_enrollment_update AFTER UPDATE ON outreach_enrollment
    WHEN OLD.state IS NOT NEW.state OR OLD.sender_id IS NOT NEW.sender_id
        OR OLD.campaign_id IS NOT NEW.campaign_id
    BEGIN {_SQLITE_ENROLLMENT.format(row="OLD")} {_SQLITE_ENROLLMENT.format(row="NEW")} END;""",
    """CREATE TRIGGER analytics_organization_update AFTER UPDATE ON accounts_organization
    WHEN OLD.timezone IS NOT NEW.timezone
    BEGIN INSERT INTO analytics_dirtybucket (kind, organization_id)
        VALUES ('organization', NEW.id); END;""",
]


@dataclass(frozen=True)
class Definition:
    """One trigger or trigger function as this code writes it, and the fingerprint that tells
    whether the database holds this version of it."""

    kind: str  # "trigger" or "function"
    name: str
    table: str | None  # the trigger's table; None for a function
    sql: str

    @property
    def fingerprint(self) -> str:
        return (
            "mailroom:"
            + hashlib.sha256(" ".join(self.sql.split()).rstrip(";").encode()).hexdigest()[:16]
        )


def _statements(text: str, terminator: str) -> list[str]:
    return [part.strip() + terminator for part in text.split(terminator) if part.strip()]


def pg_definitions() -> list[Definition]:
    functions = [
        Definition("function", sql.split()[4].split("(")[0], None, sql)
        for sql in _statements(PG_FUNCTIONS, "$$ LANGUAGE plpgsql;")
    ]
    triggers = [
        Definition("trigger", sql.split()[2], _table_of(sql), sql)
        for sql in _statements(PG_TRIGGERS, ";")
    ]
    return functions + triggers


def sqlite_definitions() -> list[Definition]:
    return [Definition("trigger", sql.split()[2], _table_of(sql), sql) for sql in SQLITE_TRIGGERS]


def _table_of(sql: str) -> str:
    words = sql.split()
    return words[words.index("ON") + 1]


SOURCE_TABLES = {
    "outreach_outboundemail",
    "bounces_bounce",
    "outreach_enrollment",
    "outreach_campaign",
    "accounts_organization",
    "analytics_dirtybucket",
}


def _installed(cursor, vendor: str) -> dict[str, str | None]:
    """What the database holds now: each analytics trigger's (and on PostgreSQL each
    function's) name with the fingerprint of its installed definition."""
    if vendor == "postgresql":
        cursor.execute(
            "SELECT tgname, obj_description(oid, 'pg_trigger') FROM pg_trigger"
            " WHERE tgname LIKE %s AND NOT tgisinternal",
            ["analytics%"],
        )
        installed = dict(cursor.fetchall())
        cursor.execute(
            "SELECT proname, obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname LIKE %s",
            ["analytics%"],
        )
        installed.update({"function:" + name: comment for name, comment in cursor.fetchall()})
        return installed
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    return {
        name: Definition("trigger", name, None, sql).fingerprint for name, sql in cursor.fetchall()
    }


def triggers_install(*, using: str = "default") -> list[str]:
    """Bring the database's triggers to this code's definitions: create the missing ones,
    replace any whose installed definition differs (an edited trigger reaches a database
    that holds the old one), drop analytics triggers this code no longer defines.

    SQLite keeps each trigger's CREATE text in sqlite_master, which is compared directly;
    PostgreSQL keeps a `mailroom:<sha>` comment on each trigger and function, written here.
    Returns the names created, replaced or dropped: when it is not empty, changes may have
    gone uncounted, and the caller queues a recount.
    """
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return []
    if not set(connection.introspection.table_names()) >= SOURCE_TABLES:
        return []
    definitions = pg_definitions() if vendor == "postgresql" else sqlite_definitions()
    changed: list[str] = []
    with connection.cursor() as cursor:
        installed = _installed(cursor, vendor)
        for definition in definitions:
            key = definition.name if definition.kind == "trigger" else "function:" + definition.name
            if installed.pop(key, None) == definition.fingerprint:
                continue
            if definition.kind == "trigger":
                cursor.execute(_drop_trigger_sql(vendor, definition.name, definition.table))
            cursor.execute(definition.sql)
            if vendor == "postgresql":
                target = (
                    f"TRIGGER {definition.name} ON {definition.table}"
                    if definition.kind == "trigger"
                    else f"FUNCTION {definition.name}()"
                )
                cursor.execute(f"COMMENT ON {target} IS '{definition.fingerprint}'")
            changed.append(definition.name)
        for stale in installed:
            if stale.startswith("function:") or not stale.startswith("analytics_"):
                continue  # an old function is harmless once no trigger calls it
            cursor.execute(
                _drop_trigger_sql(vendor, stale, _pg_table_of_trigger(cursor, vendor, stale))
            )
            changed.append(stale)
    return changed


def _drop_trigger_sql(vendor: str, name: str, table: str | None) -> str:
    if vendor == "postgresql":
        return f"DROP TRIGGER IF EXISTS {name} ON {table}"
    return f"DROP TRIGGER IF EXISTS {name}"


def _pg_table_of_trigger(cursor, vendor: str, name: str) -> str | None:
    if vendor != "postgresql":
        return None
    cursor.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = %s", [name])
    return cursor.fetchone()[0]


def triggers_uninstall(*, using: str = "default") -> None:
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return
    definitions = pg_definitions() if vendor == "postgresql" else sqlite_definitions()
    with connection.cursor() as cursor:
        for definition in definitions:
            if definition.kind == "trigger":
                cursor.execute(_drop_trigger_sql(vendor, definition.name, definition.table))
        for definition in definitions:
            if definition.kind == "function":
                cursor.execute(f"DROP FUNCTION IF EXISTS {definition.name}()")
