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
