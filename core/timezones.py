"""The time zone people read and type times in: their organization's (Organization.timezone).
The database, the tasks and the API stay in UTC; only what a person sees or enters is local."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


def zone_named(name: str) -> ZoneInfo:
    """The zone called `name`; UTC for a blank or unknown name (the field is free text)."""
    try:
        return ZoneInfo(name) if name else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def user_zone(user) -> ZoneInfo:
    """The zone of the user's organization (UTC without one). Reads user.organization, which
    Django then keeps on the user for the rest of the request."""
    if user is None or not user.is_authenticated or user.organization_id is None:
        return UTC_ZONE
    return zone_named(user.organization.timezone)
