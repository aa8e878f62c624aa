"""What a mailbox grant allows, from the scopes the provider says it granted.

Google: sending needs gmail.send (or a broader scope that includes it); bounce tracking needs
the raw messages, so gmail.readonly or broader (gmail.metadata gives headers only and forbids
`q=`). Microsoft Graph: Mail.Send; Mail.Read or Mail.ReadWrite (Mail.ReadBasic has no body).
Graph scopes arrive as URLs (`https://graph.microsoft.com/Mail.Send`) and compare without
regard to case."""

from __future__ import annotations

from dataclasses import dataclass

GMAIL = "https://www.googleapis.com/auth/gmail."
GOOGLE_FULL_MAIL = "https://mail.google.com/"
GOOGLE_SEND = {GOOGLE_FULL_MAIL, GMAIL + "send", GMAIL + "compose", GMAIL + "modify"}
GOOGLE_READ = {GOOGLE_FULL_MAIL, GMAIL + "readonly", GMAIL + "modify"}
GRAPH_PREFIX = "https://graph.microsoft.com/"
GRAPH_SEND = {"mail.send"}
GRAPH_READ = {"mail.read", "mail.readwrite"}


@dataclass(frozen=True)
class GrantedAccess:
    can_send: bool
    can_read: bool


def _graph_names(scopes: list[str]) -> set[str]:
    names = set()
    for scope in scopes:
        lowered = scope.lower()
        if lowered.startswith(GRAPH_PREFIX):
            lowered = lowered[len(GRAPH_PREFIX) :]
        names.add(lowered)
    return names


def granted_access(*, provider: str, scopes: list[str]) -> GrantedAccess:
    """What the scopes of a "google" or "microsoft" grant let Mailroom do."""
    if provider == "google":
        granted = set(scopes)
        return GrantedAccess(
            can_send=bool(granted & GOOGLE_SEND), can_read=bool(granted & GOOGLE_READ)
        )
    names = _graph_names(scopes)
    return GrantedAccess(can_send=bool(names & GRAPH_SEND), can_read=bool(names & GRAPH_READ))
