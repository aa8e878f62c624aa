from django.db import migrations, models

BATCH = 500


def reasons_of_recorded_bounces(apps, schema_editor):
    """Bounces recorded before the field get the reason their stored reply and code give."""
    from bounces.parsing import reason_of_reply

    Bounce = apps.get_model("bounces", "Bounce")
    last_id = 0
    while True:
        rows = list(
            Bounce.objects.filter(reason="", pk__gt=last_id)
            .order_by("pk")
            .only("pk", "diagnostic", "status_code")[:BATCH]
        )
        if not rows:
            return
        for row in rows:
            row.reason = reason_of_reply(row.diagnostic, row.status_code or None)
        Bounce.objects.bulk_update(rows, ["reason"])
        last_id = rows[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("bounces", "0003_inbox_message_retry"),
    ]

    operations = [
        migrations.AddField(
            model_name="bounce",
            name="reason",
            field=models.CharField(
                blank=True, help_text="Why it failed, e.g. user_unknown", max_length=32
            ),
        ),
        migrations.RunPython(reasons_of_recorded_bounces, migrations.RunPython.noop),
    ]
