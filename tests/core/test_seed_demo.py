from django.core.management import call_command

from accounts.models import Organization, User
from bounces.models import Bounce
from outreach.models import Campaign, EmailTemplate, OutboundEmail, Prospect


def _snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (Organization, User, Prospect, EmailTemplate, Campaign, OutboundEmail, Bounce)
    }


def test_seed_creates_the_documented_demo(db):
    call_command("seed_demo", verbosity=0)
    acme = Organization.objects.get(slug="acme")
    assert not acme.is_legacy
    assert Organization.objects.get(slug="legacy").is_legacy
    roles = dict(User.objects.filter(organization=acme).values_list("email", "role"))
    assert roles == {
        "rep@acme.test": "rep",
        "rep2@acme.test": "rep",
        "manager@acme.test": "manager",
        "admin@acme.test": "admin",
    }
    admin = User.objects.get(email="admin@acme.test")
    assert admin.is_staff and admin.check_password("mailroom")
    assert Prospect.objects.filter(organization=acme).count() == 200
    assert Campaign.objects.get(organization=acme).steps.count() == 3
    sent = OutboundEmail.objects.filter(organization=acme, sent_at__isnull=False)
    days = {e.sent_at.date() for e in sent}
    assert len(days) >= 29
    assert Bounce.objects.filter(organization=acme).exists()


def test_seed_twice_changes_nothing(db):
    call_command("seed_demo", verbosity=0)
    first = _snapshot()
    call_command("seed_demo", verbosity=0)
    assert _snapshot() == first
