"""Recount the analytics rollups from the source rows, or (--check) show whether they agree
with a full recount. Safe while the site runs: the rebuild holds each organization's refresh
lock, and pages keep showing the previous figures until it commits."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from analytics.services import analytics_differences, analytics_rebuild, analytics_refresh


class Command(BaseCommand):
    help = "Rebuild the analytics rollups from outbound emails, bounces and enrollments."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Slug of one organization (default: all).")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing: absorb queued changes, then compare the rollups with a full "
            "recount. Exits with status 1 when they disagree.",
        )

    def handle(self, *args, organization=None, check=False, **options):
        organizations = Organization.objects.order_by("slug")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization with slug {organization!r}")
        disagreeing = 0
        for org in organizations:
            if check:
                analytics_refresh(organization_id=org.pk, wait=True)
                differences = analytics_differences(organization_id=org.pk)
                if differences:
                    disagreeing += 1
                    self.stdout.write(self.style.ERROR(f"{org.slug}: rollups disagree"))
                    for line in differences:
                        self.stdout.write(f"  {line}")
                else:
                    self.stdout.write(
                        self.style.SUCCESS(f"{org.slug}: rollups agree with a full recount")
                    )
                continue
            started = time.monotonic()
            self.stdout.write(f"{org.slug}: rebuilding…")
            emails = analytics_rebuild(
                organization_id=org.pk, progress=lambda line: self.stdout.write(f"  {line}")
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"{org.slug}: {emails:,} emails counted in {time.monotonic() - started:.1f} s"
                )
            )
        if disagreeing:
            raise CommandError(f"{disagreeing} organization(s) disagree; run without --check")
