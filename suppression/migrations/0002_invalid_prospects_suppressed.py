"""Every prospect already marked invalid (a hard bounce, or soft bounces over the limit)
becomes a suppression entry, with the bounce that caused it when it can be found, so the send
paths that now read only the suppression list keep refusing it."""

from django.db import migrations


def invalid_prospects_suppress(apps, schema_editor):
    Prospect = apps.get_model("outreach", "Prospect")
    Bounce = apps.get_model("bounces", "Bounce")
    Suppression = apps.get_model("suppression", "Suppression")
    seen = set(
        Suppression.objects.filter(removed_at__isnull=True, scope="address").values_list(
            "organization_id", "address"
        )
    )
    invalid = Prospect.objects.filter(email_status="invalid").order_by("pk").iterator()
    for prospect in invalid:
        address = prospect.email.strip().lower()
        if (prospect.organization_id, address) in seen:
            continue
        seen.add((prospect.organization_id, address))
        soft = "soft bounce" in (prospect.invalid_reason or "").lower()
        bounce = (
            Bounce.objects.filter(
                organization_id=prospect.organization_id,
                recipient__iexact=address,
                is_hard=not soft,
            )
            .order_by("-occurred_at")
            .first()
        )
        entry = Suppression.objects.create(
            organization_id=prospect.organization_id,
            scope="address",
            address=address,
            reason="soft_bounces" if soft else "hard_bounce",
            detail=(prospect.invalid_reason or "")[:500],
            source_bounce=bounce,
        )
        if prospect.invalidated_at:
            Suppression.objects.filter(pk=entry.pk).update(created_at=prospect.invalidated_at)


class Migration(migrations.Migration):
    dependencies = [("suppression", "0001_initial")]

    operations = [migrations.RunPython(invalid_prospects_suppress, migrations.RunPython.noop)]
