from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.admin import ORGANIZATION_ADMINS_GROUP, organization_admins_group


class Command(BaseCommand):
    help = (
        "Make users organization admins: role admin, Django admin access (staff, never "
        f"superuser) in the '{ORGANIZATION_ADMINS_GROUP}' group, which sees only their own "
        "organization's rows. Also brings the group's permissions up to date."
    )

    def add_arguments(self, parser):
        parser.add_argument("emails", nargs="*", help="users of an organization")

    @transaction.atomic
    def handle(self, *args, emails, **options):
        group = organization_admins_group()
        users = get_user_model().objects
        for email in emails:
            user = users.filter(email=email.strip().lower()).first()
            if user is None:
                raise CommandError(f"No user {email}.")
            if user.organization_id is None or user.is_superuser:
                raise CommandError(
                    f"{email} has no organization or is a platform operator (superuser)."
                )
            user.role = "admin"
            user.is_staff = True
            user.save(update_fields=["role", "is_staff"])
            user.groups.add(group)
            self.stdout.write(f"{email}: organization admin of {user.organization}")
        self.stdout.write(f"'{group.name}': {group.permissions.count()} permissions")
