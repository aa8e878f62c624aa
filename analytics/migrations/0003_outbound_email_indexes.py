"""Indexes on outreach_outboundemail that only analytics queries by: recounting one sender's
day (sender_id, sent_at) and, for emails refused at send time (never sent), (sender_id,
bounced_at). They live here so analytics does not edit the outreach model.
The triggers that queue rollup refreshes are installed after `migrate`: see analytics.triggers.
"""

from django.db import migrations

INDEXES = {
    "analytics_email_sender_sent": "ON outreach_outboundemail (sender_id, sent_at)",
    "analytics_email_sender_refused": (
        "ON outreach_outboundemail (sender_id, bounced_at) WHERE sent_at IS NULL"
    ),
}


def create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} {definition}")


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; it keeps sends flowing while the
    # index builds on a large table.
    atomic = False

    dependencies = [
        ("analytics", "0002_rollups"),
        ("outreach", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
