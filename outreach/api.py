"""The JSON API for the Gmail and Outlook plug-ins: `POST /api/v1/emails/` queues an email,
`GET /api/v1/emails/<id>/` says where it stands. Authenticated with a personal API token
(`Authorization: Bearer mr_…`); no session, no CSRF (the token is the credential).

Each answer's `message` (and the words in `fields`) is in the request's language: what its
Accept-Language asks for, else the token owner's own language (else their organization's), else
English. The `error` codes are the same in every language."""

import json
from datetime import datetime
from functools import wraps

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from channels_app.sending.resolution import NoUsableChannel
from core.addresses import address_problem
from core.http import MAX_ID
from core.languages import browser_language, user_language
from suppression.selectors import RecipientSuppressed

from .inputs import MAX_BODY_CHARS, body_problem, send_at_problem, subject_problem
from .merge import MergeError, merge_values, render
from .models import OutboundEmail
from .selectors import email_waiting_reason, outbound_email_list, prospect_list, template_list
from .services import api_token_authenticate, email_enqueue, sender_name_problem

API_SOURCES = {
    "gmail_plugin": OutboundEmail.Source.GMAIL_PLUGIN,
    "outlook_plugin": OutboundEmail.Source.OUTLOOK_PLUGIN,
    "api": OutboundEmail.Source.API,
}


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def token_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        user = api_token_authenticate(raw=raw.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = _error(
                401,
                "unauthorized",
                gettext(
                    "Send a Mailroom API token as 'Authorization: Bearer <token>'. Create one "
                    "under API tokens in Mailroom."
                ),
            )
            response["WWW-Authenticate"] = 'Bearer realm="mailroom"'
            return response
        request.user = user
        language = browser_language(request) or user_language(user)
        if not language:
            return view(request, *args, **kwargs)
        with translation.override(language):
            return view(request, *args, **kwargs)

    return wrapper


def email_json(email: OutboundEmail) -> dict:
    return {
        "id": email.pk,
        "status": email.status,
        "to": email.to_address,
        "subject": email.subject,
        "source": email.source,
        "channel": email.channel_kind or None,
        "message_id": email.message_id,
        "scheduled_at": email.scheduled_at.isoformat() if email.scheduled_at else None,
        "next_attempt_at": (
            email.next_attempt_at.isoformat()
            if email.status in OutboundEmail.PENDING_STATUSES and email.next_attempt_at
            else None
        ),
        "sent_at": email.sent_at.isoformat() if email.sent_at else None,
        "reason": email_waiting_reason(email=email) or email.failure_reason or None,
    }


# The largest request body the API reads: room for a body at its limit (MAX_BODY_CHARS) even
# when every character is JSON-escaped, and nowhere near what would hold a web worker.
MAX_REQUEST_BYTES = 1_000_000
MAX_IDEMPOTENCY_KEY_CHARS = 100


def _too_large() -> JsonResponse:
    return _error(
        413,
        "request_too_large",
        gettext(
            "The request body is larger than 1 MB; a body may hold at most %(limit)s characters."
        )
        % {"limit": f"{MAX_BODY_CHARS:,}"},
    )


def _read_payload(request: HttpRequest) -> dict | JsonResponse:
    """The JSON object of the request, or the error answer (413 over the size limit, checked on
    Content-Length before anything is read)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_REQUEST_BYTES:
        return _too_large()
    try:
        raw = request.body
    except RequestDataTooBig:
        return _too_large()
    if len(raw) > MAX_REQUEST_BYTES:
        return _too_large()
    try:
        payload = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", gettext("The body must be a JSON object."))
    if not isinstance(payload, dict):
        return _error(400, "invalid_json", gettext("The body must be a JSON object."))
    return payload


def _template_id(value) -> int | None:
    """A template id given as a JSON number or a string of digits; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        return int(value)
    raise ValueError(value)


def _send_at(value) -> tuple[datetime | None, str]:
    """(the aware time, "") or (None, what is wrong with it)."""
    wanted = gettext("An ISO 8601 time with a time zone, e.g. 2030-01-31T09:00:00Z.")
    try:
        send_at = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but no such day or time (2030-02-30)
        return None, gettext("No such date or time. %(wanted)s") % {"wanted": wanted}
    if send_at is None or send_at.tzinfo is None:
        return None, wanted
    return send_at, send_at_problem(send_at)


def _text_fields_problems(*, subject, body, merge) -> dict[str, str]:
    """Subject and body (non-empty text within their limits) and merge values (no NUL)."""
    errors: dict[str, str] = {}
    if not isinstance(subject, str) or not subject.strip():
        errors["subject"] = gettext("A subject (or a template_id) is required.")
    elif problem := subject_problem(subject):
        errors["subject"] = problem
    if not isinstance(body, str) or not body.strip():
        errors["body"] = gettext("A body (or a template_id) is required.")
    elif problem := body_problem(body):
        errors["body"] = problem
    if not isinstance(merge, dict):
        errors["merge"] = gettext("An object of merge field values.")
    elif any("\x00" in str(name) + str(value) for name, value in merge.items()):
        errors["merge"] = gettext("A merge value contains a NUL character (\\x00): remove it.")
    return errors


@csrf_exempt
@require_POST
@token_required
def emails_create(request: HttpRequest) -> JsonResponse:
    user = request.user
    payload = _read_payload(request)
    if isinstance(payload, JsonResponse):
        return payload
    idempotency_key = request.headers.get("Idempotency-Key", "").strip()
    if "\x00" in idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
        return _error(
            400,
            "invalid_idempotency_key",
            gettext(
                "The Idempotency-Key header must be text of at most %(limit)s characters, "
                "without NUL."
            )
            % {"limit": MAX_IDEMPOTENCY_KEY_CHARS},
        )
    errors: dict[str, str] = {}
    to = str(payload.get("to", "")).strip()
    if not to:
        errors["to"] = gettext("A valid recipient address is required.")
    elif problem := address_problem(to):
        errors["to"] = problem
    if problem := sender_name_problem(user):
        errors["sender"] = problem
    source = API_SOURCES.get(str(payload.get("source", "api")))
    if source is None:
        errors["source"] = gettext("One of: %(sources)s.") % {"sources": ", ".join(API_SOURCES)}
    template = None
    if payload.get("template_id") is not None:
        try:
            template_id = _template_id(payload["template_id"])
        except ValueError:
            errors["template_id"] = gettext("The id of a template (a whole number).")
        else:
            template = template_list(user=user).filter(pk=template_id).first()
            if template is None:
                errors["template_id"] = gettext(
                    "No such template among yours or your organization's."
                )
    subject = payload.get("subject") or (template.subject if template else "")
    body = payload.get("body") or (template.body if template else "")
    merge = payload.get("merge") or {}
    errors |= _text_fields_problems(subject=subject, body=body, merge=merge)
    send_at = None
    if payload.get("send_at"):
        send_at, problem = _send_at(payload["send_at"])
        if problem:
            errors["send_at"] = problem
    if errors:
        return _error(400, "invalid_request", gettext("Some fields need fixing."), fields=errors)
    prospect = prospect_list(user=user).filter(email__iexact=to).first()
    try:
        rendered = render(
            subject=subject,
            body=body,
            values=merge_values(prospect=prospect, sender=user, extra=merge),
        )
    except MergeError as exc:
        return _error(400, "unknown_merge_field", exc.message, fields={"body": exc.message})
    # Merge values can lengthen the text past its limit.
    merged = {"subject": subject_problem(rendered.subject), "body": body_problem(rendered.body)}
    if merged := {name: problem for name, problem in merged.items() if problem}:
        return _error(400, "invalid_request", gettext("Some fields need fixing."), fields=merged)
    try:
        email = email_enqueue(
            sender=user,
            to_address=to,
            subject=rendered.subject,
            body=rendered.body,
            prospect=prospect,
            template=template,
            source=source,
            scheduled_at=send_at,
            idempotency_key=idempotency_key,
        )
    except NoUsableChannel as exc:
        # The plug-in rule: never rerouted, refused with what to connect.
        return _error(409, exc.code, gettext(exc.reason))
    except RecipientSuppressed as exc:
        return _error(422, exc.code, gettext(exc.reason), reason=exc.reason)
    except ValidationError as exc:
        return _error(400, "invalid_request", " ".join(exc.messages))
    # A replay of the key, sequential or concurrent (the request that lost the insert race),
    # answers 200 with the email the first request created.
    return JsonResponse(email_json(email), status=200 if email.replayed else 201)


@require_GET
@token_required
def email_detail(request: HttpRequest, pk: int) -> JsonResponse:
    email = outbound_email_list(user=request.user).filter(sender=request.user, pk=pk).first()
    if email is None:
        return _error(404, "not_found", gettext("No such email of yours."))
    return JsonResponse(email_json(email))
