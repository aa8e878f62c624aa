"""Templates are written in the product: merge fields checked at save, HTML sanitised with a
plain-text alternative, sent as multipart/alternative with the sender's signature; shared,
duplicated and deleted within the viewer's scope."""

import email
import re
from datetime import UTC, datetime
from email import policy

from django.urls import reverse

from channels_app.sending.mime import email_mime_raw
from outreach.models import EmailTemplate
from outreach.services import email_compose
from tests.factories import (
    CampaignStepFactory,
    DeliveryChannelFactory,
    EmailTemplateFactory,
    ProspectFactory,
    UserFactory,
)

HTML = (
    '<p onclick="steal()">Hi {{ first_name|default:"there" }},</p><script>alert(1)</script>'
    '<ul><li>one</li><li>two</li></ul><p>See <a href="https://acme.test/x">our page</a> or '
    '<a href="javascript:alert(1)">this</a>.</p>'
)


def _save(client, url, **fields):
    data = {"name": "Intro", "subject": "Hi {{ first_name }}", "format": "text", "body": "Hello"}
    return client.post(url, data | fields)


def test_a_rep_writes_a_plain_template(client, rep):
    client.force_login(rep)
    answer = _save(client, reverse("template_new"), body="Hi {{ first_name }},\nquick one.")
    template = EmailTemplate.objects.get()
    assert answer.url == reverse("template_detail", args=[template.pk])
    assert (template.owner, template.body, template.body_html) == (
        rep,
        "Hi {{ first_name }},\nquick one.",
        "",
    )
    assert not template.is_shared


def test_merge_field_mistakes_are_refused_at_save_with_the_reason(client, rep):
    client.force_login(rep)
    page = _save(client, reverse("template_new"), subject="Hi {{ frist_name }}").content.decode()
    assert "Unknown merge field {{ frist_name }}" in page
    page = _save(client, reverse("template_new"), body="Hello {{ company").content.decode()
    assert "opened and never closed" in page
    assert not EmailTemplate.objects.exists()


def test_html_is_sanitised_and_gets_a_plain_text_alternative(client, rep):
    client.force_login(rep)
    _save(client, reverse("template_new"), format="html", body=HTML)
    template = EmailTemplate.objects.get()
    assert "<script>" not in template.body_html and "onclick" not in template.body_html
    assert "javascript:" not in template.body_html
    assert '<a href="https://acme.test/x" rel="noopener noreferrer">our page</a>' in (
        template.body_html
    )
    assert template.body == (
        'Hi {{ first_name|default:"there" }},\n\n- one\n- two\n\nSee our page '
        "(https://acme.test/x) or this.\n"
    )
    edit = client.get(reverse("template_edit", args=[template.pk])).content.decode()
    assert re.search(r'<input type="radio" name="format" value="html"[^>]* checked>', edit)
    assert "&lt;ul&gt;&lt;li&gt;one" in edit  # the editor holds the HTML as saved


def test_an_html_template_goes_out_as_multipart_alternative_with_the_signature(rep, sandbox):
    rep.signature = "Rep Smith\nAcme <Sales>"
    rep.save()
    DeliveryChannelFactory(owner=rep)
    template = EmailTemplateFactory(
        organization=rep.organization,
        owner=rep,
        subject="Hi",
        body="Hi {{ company }}\n",
        body_html="<p>Hi {{ company }}</p>",
    )
    prospect = ProspectFactory(organization=rep.organization, owner=rep, company="<Ben & Jerry>")
    queued = email_compose(
        sender=rep, prospect=prospect, template=template, subject="Hi", body=template.body
    )
    assert queued.body == "Hi <Ben & Jerry>\n\n-- \nRep Smith\nAcme <Sales>\n"
    assert queued.body_html == (
        "<p>Hi &lt;Ben &amp; Jerry&gt;</p><p>-- <br>Rep Smith<br>Acme &lt;Sales&gt;</p>"
    )
    raw = email_mime_raw(
        email=queued, from_address=rep.email, from_name="Rep", now=datetime.now(UTC)
    )
    parsed = email.message_from_bytes(raw, policy=policy.strict)
    assert not parsed.defects
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain" and "Rep Smith" in plain.get_content()
    assert html.get_content_type() == "text/html"
    assert "&lt;Ben &amp; Jerry&gt;" in html.get_content()


def test_an_edited_body_goes_as_plain_text_only(rep):
    DeliveryChannelFactory(owner=rep)
    template = EmailTemplateFactory(
        organization=rep.organization, owner=rep, body="Hi\n", body_html="<p>Hi</p>"
    )
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    queued = email_compose(
        sender=rep, prospect=prospect, template=template, subject="Hi", body="Hi, edited\n"
    )
    assert queued.body_html == "" and queued.body == "Hi, edited\n"


def test_preview_fills_in_a_prospect_and_reports_mistakes(client, rep):
    rep.signature = "Rep"
    rep.save()
    prospect = ProspectFactory(organization=rep.organization, owner=rep, first_name="Ana")
    client.force_login(rep)
    url = reverse("template_preview")
    answer = client.post(
        url, {"subject": "Hi {{ first_name }}", "body": "Yo {{ company }}", "prospect": prospect.pk}
    ).json()
    assert answer["ok"] and answer["subject"] == "Hi Ana"
    assert answer["text"] == f"Yo {prospect.company}\n\n-- \nRep\n"
    answer = client.post(url, {"subject": "Hi", "body": "Yo {{ compny }}"}).json()
    assert not answer["ok"] and "Unknown merge field {{ compny }}" in answer["errors"]["body"][0]
    stranger = ProspectFactory(organization=rep.organization)  # nobody's: not the rep's to see
    answer = client.post(
        url, {"subject": "{{ email }}", "body": "x", "prospect": stranger.pk}
    ).json()
    assert answer["subject"] == ""


def test_shared_templates_are_used_and_duplicated_but_edited_only_by_their_owner(client, rep):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    shared = EmailTemplateFactory(
        organization=rep.organization, owner=colleague, name="Team intro", is_shared=True
    )
    client.force_login(rep)
    assert client.get(reverse("template_detail", args=[shared.pk])).status_code == 200
    assert client.get(reverse("template_edit", args=[shared.pk])).status_code == 404
    assert client.post(reverse("template_delete", args=[shared.pk])).status_code == 404
    client.post(reverse("template_duplicate", args=[shared.pk]))
    client.post(reverse("template_duplicate", args=[shared.pk]))
    copies = EmailTemplate.objects.filter(owner=rep).order_by("name")
    assert [c.name for c in copies] == ["Team intro (copy 2)", "Team intro (copy)"]
    assert all(c.body == shared.body and not c.is_shared for c in copies)


def test_a_template_used_by_a_campaign_is_not_deleted(client, rep):
    step = CampaignStepFactory(
        campaign__organization=rep.organization,
        campaign__owner=rep,
        campaign__name="Q4",
        template__organization=rep.organization,
        template__owner=rep,
    )
    unused = EmailTemplateFactory(organization=rep.organization, owner=rep)
    client.force_login(rep)
    client.post(reverse("template_delete", args=[step.template.pk]))
    assert EmailTemplate.objects.filter(pk=step.template.pk).exists()
    page = client.get(reverse("template_detail", args=[step.template.pk]), follow=True)
    assert "Campaign steps use this template (Q4)" in page.content.decode()
    client.post(reverse("template_delete", args=[unused.pk]))
    assert not EmailTemplate.objects.filter(pk=unused.pk).exists()


def test_the_signature_is_a_profile_setting(client, rep):
    client.force_login(rep)
    client.post(reverse("profile"), {"signature": "  Rep Smith\nAcme  "})
    rep.refresh_from_db()
    assert rep.signature == "Rep Smith\nAcme"
    page = client.post(reverse("profile"), {"signature": "x" * 2001}).content.decode()
    assert "at most 2000 characters" in page
    rep.refresh_from_db()
    assert rep.signature == "Rep Smith\nAcme"
