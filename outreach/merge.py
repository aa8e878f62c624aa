"""Merge fields for templates: `{{ first_name }}`, `{{ company|default:"your team" }}`.

A small substitution language on purpose, not Django template execution: templates are
written by users, and a template engine would let them reach attributes, filters and tags.
Only the names below exist; anything else is reported, never evaluated."""

import re
from dataclasses import dataclass
from html import escape

from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.names import person_name
from suppression.links import unsubscribe_url

from .html_body import html_sanitize
from .models import Prospect

FIELD = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\s*:\s*\"(?P<default>[^\"]*)\"\s*)?\}\}"
)
# Where a tag opens, and what closes it: `{{ … }}` merge fields, `{% … %}` template tags (which
# we do not run, so they are reported).
OPENERS = {"{{": "}}", "{%": "%}"}

FIELDS: dict[str, Promise] = {
    "first_name": _("The prospect's first name"),
    "last_name": _("The prospect's last name"),
    "full_name": _("The prospect's full name"),
    "company": _("The prospect's company"),
    "title": _("The prospect's job title"),
    "email": _("The prospect's email address"),
    "sender_first_name": _("Your first name"),
    "sender_last_name": _("Your last name"),
    "sender_name": _("Your full name"),
    "sender_email": _("Your email address"),
    "unsubscribe_url": _("A one-click link that stops your emails to the prospect"),
}


class MergeError(ValueError):
    def __init__(self, message: str, *, unknown: list[str]):
        super().__init__(message)
        self.message = message
        self.unknown = unknown


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    empty_fields: list[str]  # fields used without a value or default (worth a look)
    body_html: str = ""


def merge_values(*, prospect: Prospect | None, sender: User, extra: dict | None = None) -> dict:
    values = {
        "sender_first_name": sender.first_name,
        "sender_last_name": sender.last_name,
        "sender_name": sender.get_full_name() or sender.email,
        "sender_email": sender.email,
    }
    if prospect is not None:
        values |= {
            "first_name": prospect.first_name,
            "last_name": prospect.last_name,
            "full_name": person_name(prospect.first_name, prospect.last_name),
            "company": prospect.company,
            "title": prospect.title,
            "email": prospect.email,
            "unsubscribe_url": unsubscribe_url(
                organization_id=prospect.organization_id, address=prospect.email
            ),
        }
    for name, value in (extra or {}).items():
        if name in FIELDS and isinstance(value, str | int | float):
            values[name] = str(value)
    return values


def template_tags(text: str) -> tuple[list[str], str]:
    """Every `{{ … }}` and `{% … %}` in `text`, left to right, and the start of the first tag
    left unclosed ("" when none). Linear in the text: each search resumes where the last one
    stopped, so no character is scanned more than a few times (a regex with a lazy `.*?` tries
    every opener against the rest of the text, quadratic on a run of unclosed `{{`)."""
    tags: list[str] = []
    nexts = {opener: text.find(opener) for opener in OPENERS}
    position = 0
    while True:
        found = [(at, opener) for opener, at in nexts.items() if at != -1]
        if not found:
            return tags, ""
        start, opener = min(found)
        end = text.find(OPENERS[opener], start + 2)
        if end == -1:
            return tags, text[start : start + 40]
        tags.append(text[start : end + 2])
        position = end + 2
        for name, at in nexts.items():
            if at != -1 and at < position:
                nexts[name] = text.find(name, position)


def unknown_fields(text: str) -> list[str]:
    """Tags that are not a known merge field (a typo, or template syntax we do not run).
    Raises MergeError for a tag left unclosed."""
    tags, unclosed = template_tags(text)
    if unclosed:
        raise MergeError(
            gettext(
                "A merge field is opened and never closed: “%(tag)s…”. Close it with "
                "%(closer)s or remove the %(opener)s."
            )
            % {"tag": unclosed, "closer": OPENERS[unclosed[:2]], "opener": unclosed[:2]},
            unknown=[],
        )
    unknown = []
    for tag in tags:
        match = FIELD.fullmatch(tag)
        if match is None or match.group("name") not in FIELDS:
            unknown.append(tag)
    return unknown


def render_text(text: str, values: dict, empty: list[str] | None = None) -> str:
    def replace(match: re.Match) -> str:
        value = values.get(match.group("name"), "")
        if not value:
            if match.group("default") is not None:
                return match.group("default")
            if empty is not None and match.group("name") not in empty:
                empty.append(match.group("name"))
        return value

    return FIELD.sub(replace, text)


def unknown_fields_message(unknown: list[str]) -> str:
    return ngettext(
        "Unknown merge field %(fields)s. Use one of: %(known)s",
        "Unknown merge fields %(fields)s. Use one of: %(known)s",
        len(unknown),
    ) % {
        "fields": ", ".join(unknown),
        "known": ", ".join(f"{{{{ {name} }}}}" for name in FIELDS),
    }


def merge_problem(text: str) -> str:
    """What is wrong with the merge fields of `text` (an unclosed tag, unknown fields), as the
    template and compose forms show it; "" when nothing is."""
    try:
        unknown = unknown_fields(text)
    except MergeError as exc:
        return exc.message
    return unknown_fields_message(unknown) if unknown else ""


def render(*, subject: str, body: str, values: dict, body_html: str = "") -> Rendered:
    """Fill in the merge fields (in an HTML body, the values HTML-escaped, and the result
    sanitised again). Raises MergeError listing any unknown tag."""
    unknown = unknown_fields(subject) + unknown_fields(body) + unknown_fields(body_html)
    if unknown:
        raise MergeError(unknown_fields_message(unknown), unknown=unknown)
    empty: list[str] = []
    html = ""
    if body_html:
        escaped = {name: escape(str(value)) for name, value in values.items()}
        html = html_sanitize(render_text(body_html, escaped))
    return Rendered(
        subject=" ".join(render_text(subject, values, empty).split()),
        body=render_text(body, values, empty),
        empty_fields=empty,
        body_html=html,
    )
