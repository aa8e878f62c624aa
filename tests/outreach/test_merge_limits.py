"""The merge-field check is linear, an unclosed `{{` is an error, and subject and body have
limits that compose and the API state (issue 13, item 10)."""

import json

import pytest
from django.urls import reverse

from outreach.inputs import MAX_BODY_CHARS
from outreach.merge import MergeError, render, template_tags
from outreach.services import api_token_create
from tests.factories import DeliveryChannelFactory, ProspectFactory


class CountingText(str):
    """A text that counts the characters its searches pass over."""

    scanned = 0

    def find(self, sub, start=0, end=None):
        at = super().find(sub, start)
        CountingText.scanned += (at if at != -1 else len(self)) - start
        return at


def _scanned(text: str) -> int:
    CountingText.scanned = 0
    template_tags(CountingText(text))
    return CountingText.scanned


@pytest.mark.parametrize("unit", ["{{", "{{ x }}", "{{ first_name }} {% x %}", "{%{{"])
def test_the_check_scans_each_character_a_bounded_number_of_times(unit):
    """160 KB of repeated `{{` (99 s before) is checked scanning each character at most
    twice per kind of tag: doubling the text doubles the work, whatever it repeats."""
    for size in (20_000, 80_000, 160_000):
        text = unit * (size // len(unit))
        assert _scanned(text) <= 4 * len(text)


def test_160_kb_of_unclosed_braces_is_an_error_naming_it():
    with pytest.raises(MergeError, match="opened and never closed"):
        render(subject="Hi", body="{{" * 80_000, values={})


def test_unclosed_tag_is_a_form_error_at_compose(client, rep):
    DeliveryChannelFactory(owner=rep)
    client.force_login(rep)
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    page = client.post(
        reverse("compose"),
        {"prospect": prospect.pk, "subject": "Hi", "body": "Hi {{ first_name", "action": "send"},
    )
    assert page.status_code == 200
    assert "opened and never closed" in page.content.decode()


def test_compose_states_and_enforces_the_body_limit(client, rep):
    DeliveryChannelFactory(owner=rep)
    client.force_login(rep)
    assert "At most 100,000 characters." in client.get(reverse("compose")).content.decode()
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    page = client.post(
        reverse("compose"),
        {"prospect": prospect.pk, "subject": "Hi", "body": "x" * (MAX_BODY_CHARS + 1)},
    )
    assert "the limit is 100,000 characters" in page.content.decode()


def test_api_refuses_an_unclosed_tag_and_an_oversized_subject(client, rep):
    DeliveryChannelFactory(owner=rep)
    _, raw = api_token_create(user=rep, name="Plug-in")

    def post(payload):
        return client.post(
            reverse("api_emails"),
            data=json.dumps({"to": "ana@customer.test", **payload}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    unclosed = post({"subject": "Hi {{ first_name", "body": "Hi"})
    assert unclosed.status_code == 400
    assert "opened and never closed" in unclosed.json()["message"]
    long = post({"subject": "s" * 999, "body": "Hi"})
    assert long.status_code == 400
    assert "the limit is 998 characters" in long.json()["fields"]["subject"]
