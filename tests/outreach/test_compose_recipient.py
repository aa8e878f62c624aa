"""Compose's "To" is a search over the rep's prospects, not a dropdown of every address; the
template fills in without a round trip; a body typed with HTML tags goes out as the text typed
(issue 14, compose)."""

import json

from django.urls import reverse

from outreach.models import OutboundEmail
from tests.factories import EmailTemplateFactory, ProspectFactory, UserFactory
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received


def _prospect(rep, **fields):
    return ProspectFactory(organization=rep.organization, owner=rep, **fields)


def test_to_is_a_search_field_not_a_list_of_every_prospect(client, rep):
    for n in range(30):
        _prospect(rep, email=f"lead{n}@example.test")
    client.force_login(rep)
    page = client.get(reverse("compose")).content.decode()
    assert 'name="to"' in page and 'type="search"' in page
    assert "lead7@example.test" not in page
    assert '<select name="prospect"' not in page


def test_a_search_that_finds_one_prospect_is_the_recipient(client, rep):
    ana = _prospect(rep, first_name="Ana", last_name="Lima", company="Initech")
    _prospect(rep, first_name="Bo", last_name="Berg", company="Globex")
    client.force_login(rep)
    page = client.post(
        reverse("compose"),
        {"to": "initech", "subject": "Hi {{ first_name }}", "body": "Hello", "action": "preview"},
    ).content.decode()
    assert "Hi Ana" in page
    assert f'value="Ana Lima &lt;{ana.email}&gt;"' in page
    assert f'name="prospect" value="{ana.pk}"' in page


def test_a_search_that_finds_several_lists_them_to_pick_without_script(client, rep):
    first = _prospect(rep, first_name="Ana", company="Initech", email="ana@initech.test")
    _prospect(rep, first_name="Bo", company="Initech", email="bo@initech.test")
    other_rep = UserFactory(organization=rep.organization, team=rep.team)
    ProspectFactory(organization=rep.organization, owner=other_rep, email="cy@initech.test")
    client.force_login(rep)
    form = {"to": "Initech", "subject": "Hi", "body": "Hello"}

    found = client.post(reverse("compose"), {**form, "action": "find"}).content.decode()
    assert "ana@initech.test" in found and "bo@initech.test" in found
    assert "cy@initech.test" not in found  # another rep's prospect
    assert 'name="pick"' in found and not OutboundEmail.objects.exists()

    refused = client.post(reverse("compose"), {**form, "action": "preview"}).content.decode()
    assert "2 prospects match “Initech”: pick one." in refused

    picked = client.post(reverse("compose"), {**form, "pick": first.pk, "action": "preview"})
    assert "Preview" in picked.content.decode() and picked.context["form"].is_valid()
    assert picked.context["form"].cleaned_data["prospect"] == first


def test_the_type_ahead_answers_with_the_reps_own_matches(client, rep):
    _prospect(rep, first_name="Ana", last_name="Lima", company="Initech", email="ana@i.test")
    other_rep = UserFactory(organization=rep.organization, team=rep.team)
    ProspectFactory(organization=rep.organization, owner=other_rep, first_name="Ana")
    client.force_login(rep)
    answer = client.get(reverse("compose_recipients"), {"q": "ana"}).json()
    assert [(r["label"], r["company"]) for r in answer["results"]] == [
        ("Ana Lima <ana@i.test>", "Initech")
    ]


def test_the_page_carries_the_templates_so_choosing_one_needs_no_round_trip(client, rep):
    template = EmailTemplateFactory(owner=rep, name="Intro", subject="Hello {{ first_name }}")
    client.force_login(rep)
    page = client.get(reverse("compose")).content.decode()
    carried = page.split('id="compose-templates" type="application/json">', 1)[1]
    contents = json.loads(carried.split("</script>", 1)[0])
    assert contents[str(template.pk)]["subject"] == "Hello {{ first_name }}"


def test_html_typed_into_a_body_goes_out_as_the_text_typed(client, sandbox, rep):
    smtp_channel(sandbox, owner=rep)
    prospect = _prospect(rep, first_name="Ana")
    client.force_login(rep)
    form = {"prospect": prospect.pk, "subject": "Hi", "body": "Hello <b>Ana</b>, see <a>this</a>"}

    preview = client.post(reverse("compose"), {**form, "action": "preview"}).content.decode()
    assert "goes out as plain text, so the reader sees the tags exactly as typed" in preview

    client.post(reverse("compose"), {**form, "action": "send"})
    email = OutboundEmail.objects.get()
    assert email.body_html == ""
    drain(email.channel)
    sent = smtp_received(sandbox)[0]
    assert sent.get_content_type() == "text/plain"
    assert "Hello <b>Ana</b>" in sent.get_payload(decode=True).decode()
