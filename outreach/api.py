"""The JSON API for the Gmail and Outlook plug-ins: `POST /api/v1/emails/` queues an email,
`GET /api/v1/emails/<id>/` says where it stands. Authenticated with a personal API token
(`Authorization: Bearer mr_…`); no session, no CSRF (the token is the credential)."""

import json
from functools import wraps

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from channels_app.sending.resolution import NoUsableChannel

from .merge import MergeError, merge_values, render
from .models import OutboundEmail
from .selectors import email_waiting_reason, outbound_email_list, prospect_list, template_list
from .services import api_token_authenticate, email_enqueue

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
                "Send a Mailroom API token as 'Authorization: Bearer <token>'. Create one under "
                "API tokens in Mailroom.",
            )
            response["WWW-Authenticate"] = 'Bearer realm="mailroom"'
            return response
        request.user = user
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


@csrf_exempt
@require_POST
@token_required
def emails_create(request: HttpRequest) -> JsonResponse:
    user = request.user
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "The body must be a JSON object.")
    if not isinstance(payload, dict):
        return _error(400, "invalid_json", "The body must be a JSON object.")
    errors: dict[str, str] = {}
    to = str(payload.get("to", "")).strip()
    try:
        validate_email(to)
    except ValidationError:
        errors["to"] = "A valid recipient address is required."
    source = API_SOURCES.get(str(payload.get("source", "api")))
    if source is None:
        errors["source"] = f"One of: {', '.join(API_SOURCES)}."
    template = None
    if payload.get("template_id") is not None:
        template = template_list(user=user).filter(pk=payload["template_id"]).first()
        if template is None:
            errors["template_id"] = "No such template among yours or your organization's."
    subject = payload.get("subject") or (template.subject if template else "")
    body = payload.get("body") or (template.body if template else "")
    if not isinstance(subject, str) or not subject.strip():
        errors["subject"] = "A subject (or a template_id) is required."
    if not isinstance(body, str) or not body.strip():
        errors["body"] = "A body (or a template_id) is required."
    merge = payload.get("merge") or {}
    if not isinstance(merge, dict):
        errors["merge"] = "An object of merge field values."
    send_at = None
    if payload.get("send_at"):
        send_at = parse_datetime(str(payload["send_at"]))
        if send_at is None or send_at.tzinfo is None:
            errors["send_at"] = "An ISO 8601 time with a time zone, e.g. 2030-01-31T09:00:00Z."
    if errors:
        return _error(400, "invalid_request", "Some fields need fixing.", fields=errors)
    prospect = prospect_list(user=user).filter(email__iexact=to).first()
    try:
        rendered = render(
            subject=subject,
            body=body,
            values=merge_values(prospect=prospect, sender=user, extra=merge),
        )
    except MergeError as exc:
        return _error(400, "unknown_merge_field", exc.message, fields={"body": exc.message})
    idempotency_key = request.headers.get("Idempotency-Key", "").strip()[:100]
    repeated = bool(idempotency_key) and (
        OutboundEmail.objects.filter(sender=user, idempotency_key=idempotency_key).exists()
    )
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
        return _error(409, exc.code, exc.reason)
    except ValidationError as exc:
        return _error(400, "invalid_request", " ".join(exc.messages))
    return JsonResponse(email_json(email), status=200 if repeated else 201)


@require_GET
@token_required
def email_detail(request: HttpRequest, pk: int) -> JsonResponse:
    email = outbound_email_list(user=request.user).filter(sender=request.user, pk=pk).first()
    if email is None:
        return _error(404, "not_found", "No such email of yours.")
    return JsonResponse(email_json(email))
