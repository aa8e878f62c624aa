"""classify_message and the poller's header pre-filter, on the shared corpus."""

from __future__ import annotations

import json

import pytest

from bounces.classify import classify_message, may_be_bounce_or_reply
from bounces.parsing.message import parse_bytes
from tests.bounces.corpus import corpus_dir

CORPUS = corpus_dir()
PREFILTER_HEADERS = (
    "from",
    "subject",
    "content-type",
    "auto-submitted",
    "in-reply-to",
    "references",
    "x-ms-exchange-message-class",
)

# What each kind of nonbounce/ sample must be classified as.
EXPECTED_KINDS = {
    "ooo": {"auto_reply"},
    "reply": {"reply_candidate"},
    "mdn": {"other"},
    "delivered": {"other"},
    "challenge": {"auto_reply"},
    # Notifications (calendar, recall reports) may carry Auto-Submitted: never a reply, though.
    "newsletter": {"other", "auto_reply"},
    # A colleague forwarding a bounce writes a new message: a person, but not a bounce.
    "forwarded": {"other", "reply_candidate"},
}


def _records(folder: str) -> list[tuple[dict, bytes]]:
    expected = CORPUS / folder / "expected.jsonl"
    if not expected.exists():
        return []
    base = CORPUS / folder / ("emails" if folder == "sisimai" else "")
    records = []
    for line in expected.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records.append((record, (base / record["file"]).read_bytes()))
    return records


NONBOUNCE = _records("nonbounce")
SISIMAI = _records("sisimai")


@pytest.mark.parametrize(
    ("record", "raw"), NONBOUNCE, ids=[record["file"] for record, _ in NONBOUNCE]
)
def test_ordinary_mail_is_never_a_bounce(record, raw):
    classification = classify_message(raw)
    assert classification.bounce is None
    assert classification.kind in EXPECTED_KINDS[record["kind"]], classification


def test_vacation_replies_are_auto_replies():
    vacations = [raw for record, raw in SISIMAI if record["kind"] == "vacation"]
    assert vacations
    for raw in vacations:
        assert classify_message(raw).kind == "auto_reply"


def test_bounces_are_bounces():
    bounces = [raw for record, raw in SISIMAI if record["is_bounce"]]
    classified = [classify_message(raw) for raw in bounces]
    found = [c for c in classified if c.kind == "bounce"]
    assert len(found) / len(bounces) >= 0.97
    assert all(c.bounce is not None and c.bounce.recipients for c in found)


def test_a_reply_carries_its_thread_ids_normalized():
    record, raw = next((r, raw) for r, raw in NONBOUNCE if r["kind"] == "reply")
    classification = classify_message(raw)
    assert classification.in_reply_to
    assert all(i.startswith("<") and i.endswith(">") for i in classification.in_reply_to)
    assert all(i.startswith("<") and i.endswith(">") for i in classification.references)
    assert classification.message_id and classification.message_id.startswith("<")
    assert classification.from_address and "@" in classification.from_address
    assert classification.subject


@pytest.mark.parametrize(
    ("subject", "language"),
    [
        ("Out of Office: Quick question", "en"),
        ("Abwesenheitsnotiz: Kurze Frage", "de"),
        ("Absence du bureau : Question", "fr"),
        ("Fuera de la oficina: Pregunta", "es"),
        ("Fuori ufficio: Domanda", "it"),
        ("Afwezig: Korte vraag", "nl"),
        ("Ausência temporária: Pergunta", "pt"),
        ("Automatic reply: Quick question", "en"),
        ("Réponse automatique : Question", "fr"),
        ("Risposta automatica: Domanda", "it"),
        ("Automatisch antwoord: Vraag", "nl"),
        ("Resposta automática: Pergunta", "pt"),
    ],
)
def test_out_of_office_subjects_in_several_languages(subject, language):
    raw = (
        f"From: Ana <ana@prospect.example>\nTo: rep@acme.example\nSubject: {subject}\n"
        "In-Reply-To: <abc@mailroom.example>\nContent-Type: text/plain; charset=utf-8\n\n"
        "Thanks for your message.\n"
    ).encode()
    assert classify_message(raw).kind == "auto_reply", language


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: auto_reply"],
)
def test_auto_reply_headers(header):
    raw = (
        f"From: Ana <ana@prospect.example>\nSubject: Re: Quick question\n{header}\n"
        "In-Reply-To: <abc@mailroom.example>\n\nI am away.\n"
    ).encode()
    assert classify_message(raw).kind == "auto_reply"


def test_auto_submitted_no_is_a_person():
    raw = (
        b"From: Ana <ana@prospect.example>\nSubject: Re: Quick question\nAuto-Submitted: no\n"
        b"In-Reply-To: <abc@mailroom.example>\n\nSounds good, let's talk Tuesday.\n"
    )
    assert classify_message(raw).kind == "reply_candidate"


def test_garbage_is_other():
    assert classify_message(b"\x00\x01 not mail").kind == "other"


def _prefilter_headers(raw: bytes) -> dict[str, str]:
    message = parse_bytes(raw)
    return {
        name: str(value) for name, value in message.items() if name.lower() in PREFILTER_HEADERS
    }


def test_prefilter_keeps_every_corpus_bounce():
    missed = [
        record["file"]
        for record, raw in SISIMAI
        if record["is_bounce"] and not may_be_bounce_or_reply(_prefilter_headers(raw))
    ]
    assert missed == []


def test_prefilter_keeps_replies_and_auto_replies():
    for record, raw in NONBOUNCE:
        if record["kind"] in {"ooo", "reply", "challenge"}:
            assert may_be_bounce_or_reply(_prefilter_headers(raw)), record["file"]


def test_prefilter_drops_a_newsletter_without_in_reply_to():
    headers = {
        "From": "Acme Insights <news@insights.example>",
        "Subject": "The 5 metrics every RevOps team should track in Q4",
        "Content-Type": "multipart/alternative; boundary=x",
    }
    assert may_be_bounce_or_reply(headers) is False
    assert may_be_bounce_or_reply({**headers, "In-Reply-To": "<abc@mailroom.example>"})


# Issue 13 item 1: the stdlib header decoder raises on these (HeaderParseError, CharsetError),
# and a raise made the poller retry the bounce three times and drop it.
_UNDECODABLE_HEADERS = [
    b"References: =?utf-8?b?A?=",
    b"In-Reply-To: =?utf-8?b?QUJD?= =?utf-8?b?A?=",
    b"Subject: Undelivered Mail Returned to Sender =?bogus-charset?q?x?=",
    b"Message-ID: =?unknown-8bit?b?A?=",
]


@pytest.mark.parametrize("header", _UNDECODABLE_HEADERS)
def test_a_bounce_with_an_undecodable_header_is_still_a_bounce(header):
    raw = (
        b"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        b"To: rep@mailroom.example\r\n" + header + b"\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"This is the mail system at host mx.example.net.\r\n\r\n"
        b"I'm sorry to have to inform you that your message could not\r\n"
        b"be delivered to one or more recipients.\r\n\r\n"
        b"<gone@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1\r\n"
        b"    <gone@example.net>: Recipient address rejected: User unknown\r\n"
    )
    classification = classify_message(raw)
    assert classification.kind == "bounce"
    assert [r.address for r in classification.bounce.recipients] == ["gone@example.net"]


def test_encoded_words_decode_each_on_its_own():
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9?= <rene@example.org>\r\n"
        b"Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?b?A?= =?iso-8859-1?q?=E9t=E9?=\r\n"
        b"In-Reply-To: <sent-1@mailroom.example>\r\n\r\nThanks!\r\n"
    )
    classification = classify_message(raw)
    assert classification.kind == "reply_candidate"
    assert classification.subject == "Caf\u00e9\u00e9t\u00e9"
    assert classification.from_address == "rene@example.org"
