"""factory_boy factories shared by every test module."""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Organization, Team, User
from channels_app.models import DeliveryChannel
from outreach.models import (
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    organization = factory.SubFactory(OrganizationFactory)
    team = None
    role = User.Role.REP
    password = factory.PostGenerationMethodCall("set_password", "mailroom")

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save(update_fields=["password"])


class ProspectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prospect

    organization = factory.SubFactory(OrganizationFactory)
    owner = None
    email = factory.Sequence(lambda n: f"prospect{n}@customer.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    title = "VP Sales"


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    owner = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("owner.organization")
    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Quick question, {{ first_name }}"
    body = "Hi {{ first_name }},\n\nDoes {{ company }} still hire SDRs?\n"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    owner = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("owner.organization")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    status = Campaign.Status.ACTIVE


class CampaignStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignStep

    campaign = factory.SubFactory(CampaignFactory)
    position = factory.Sequence(lambda n: n + 1)
    template = factory.SubFactory(
        EmailTemplateFactory, owner=factory.SelfAttribute("..campaign.owner")
    )
    delay = timedelta(days=2)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    campaign = factory.SubFactory(CampaignFactory)
    prospect = factory.SubFactory(
        ProspectFactory, organization=factory.SelfAttribute("..campaign.organization")
    )
    sender = factory.SelfAttribute("campaign.owner")
    state = Enrollment.State.PAUSED


class OutboundEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboundEmail

    sender = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("sender.organization")
    prospect = factory.SubFactory(
        ProspectFactory, organization=factory.SelfAttribute("..sender.organization")
    )
    to_address = factory.SelfAttribute("prospect.email")
    subject = "Hello"
    body = "Hi there"
    status = OutboundEmail.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)
    message_id = factory.Sequence(lambda n: f"<test-{n}@mailroom.test>")
    channel_kind = DeliveryChannel.Kind.GMAIL
    # Pending emails need a time the send pipeline may pick them up.
    next_attempt_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status in OutboundEmail.PENDING_STATUSES else None
    )


class DeliveryChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryChannel

    owner = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("owner.organization")
    kind = DeliveryChannel.Kind.GMAIL
    status = DeliveryChannel.Status.CONNECTED
    mailbox_address = factory.SelfAttribute("owner.email")
