"""The shared cache's table when CACHES uses the database (the embedded default): created by
`migrate`, so every deployment and `make run` has it. A Redis cache needs no table; running
this again creates nothing."""

from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
