"""fml (a Japanese mailing-list manager) refusing a post: a soft bounce on the list's address.

A rep who writes to a members-only list gets fml's refusal, not a DSN: the message reached
nobody, but the address is a working list, so it is soft. fml's other notices (loop and
security alerts to the list's maintainer) and the posts it relays are not bounces.
"""

from __future__ import annotations

from bench.bounce_corpus import sisimai_status
from bounces.parsing import parse_bounce


def fml_mail(*, subject: str, body: str, message_id: str, to: str = "rep@acme.example") -> bytes:
    return (
        "From: sales-admin@lists.prospect.example\n"
        f"To: {to}\n"
        f"Subject: {subject}\n"
        f"Message-ID: {message_id}\n"
        "References: <r7.5501@mailroom.example>\n"
        "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n"
        "X-ML-Info: If you have a question, please contact sales-admin@lists.prospect.example\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"{body}"
    ).encode()


REFUSAL = (
    "You are not a member of this mailing list <sales@lists.prospect.example>.\n"
    "\n"
    "If you know the general guide of this list, please send mail with\n"
    "the mail body\n"
    "\n"
    "\tguide\n"
    "\n"
    "to the address\n"
    "\n"
    "\tsales-ctl@lists.prospect.example\n"
)


def test_a_refused_post_is_a_soft_bounce_on_the_list_address():
    report = parse_bounce(
        fml_mail(
            subject="You rep@acme.example are not member (sales ML)",
            body=REFUSAL,
            message_id="<202403011030.FMLAAB0042.sales@lists.prospect.example>",
        )
    )
    assert report is not None
    assert [r.address for r in report.recipients] == ["sales@lists.prospect.example"]
    recipient = report.recipients[0]
    assert (recipient.reason, recipient.status, recipient.hard) == ("rejected", None, False)
    assert sisimai_status(recipient) == "5.0.918"
    # No copy comes back: the notice refers to the refused post.
    assert report.original_message_id == "<r7.5501@mailroom.example>"


def test_a_loop_alert_to_the_lists_maintainer_is_not_a_bounce():
    raw = fml_mail(
        subject="Loop Alert: Duplicated Message-ID (sales ML)",
        body=(
            "Duplicated Message-ID in <sales@lists.prospect.example>.\n\n\n"
            "Original mail as follows:\n\n"
            "   From: <someone@elsewhere.example>\n"
            "   To: <sales@lists.prospect.example>\n"
        ),
        message_id="<202403011030.FMLAAB0043.sales@lists.prospect.example>",
        to="sales-admin@lists.prospect.example",
    )
    assert parse_bounce(raw) is None


def test_a_post_the_list_relays_is_not_a_bounce_whatever_it_says():
    raw = fml_mail(
        subject="Re: who may post here?",
        body="Only members can post; you are not a member of this mailing list <x@y.example>.\n",
        message_id="<CAF3x9k2@mail.member.example>",
    )
    assert parse_bounce(raw) is None
