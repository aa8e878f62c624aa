"""Who may see whose data. Every queryset a page shows is narrowed through these functions,
so a forgotten filter cannot leak another tenant's rows.

Scope by role: a rep sees their own; a manager the members of the teams they manage or belong
to; an admin the whole organization. A user with no organization sees nothing."""

from django.db.models import Q, QuerySet

from .models import Team, User


def team_ids_for_manager(*, user: User) -> list[int]:
    ids = set(Team.objects.filter(manager=user).values_list("id", flat=True))
    if user.team_id:
        ids.add(user.team_id)
    return sorted(ids)


def user_scope_q(*, user: User, field: str) -> Q:
    """A filter on `field` (a path to a User foreign key, e.g. "sender" or "owner") that keeps
    the rows `user` may see. Always includes the organization check on the related user."""
    if not user.is_authenticated or user.organization_id is None:
        return Q(pk__in=[])
    org_q = Q(**{f"{field}__organization_id": user.organization_id})
    if user.role == User.Role.ADMIN:
        return org_q
    if user.role == User.Role.MANAGER:
        return org_q & (
            Q(**{f"{field}__team_id__in": team_ids_for_manager(user=user)}) | Q(**{field: user})
        )
    return org_q & Q(**{field: user})


def user_list_visible(*, user: User) -> QuerySet[User]:
    """The users whose figures and mail `user` may see (themselves included)."""
    if not user.is_authenticated or user.organization_id is None:
        return User.objects.none()
    users = User.objects.filter(organization_id=user.organization_id, is_active=True)
    if user.role == User.Role.ADMIN:
        return users
    if user.role == User.Role.MANAGER:
        return users.filter(Q(team_id__in=team_ids_for_manager(user=user)) | Q(pk=user.pk))
    return users.filter(pk=user.pk)


def team_list_visible(*, user: User) -> QuerySet[Team]:
    if not user.is_authenticated or user.organization_id is None:
        return Team.objects.none()
    teams = Team.objects.filter(organization_id=user.organization_id)
    if user.role == User.Role.ADMIN:
        return teams
    if user.role == User.Role.MANAGER:
        return teams.filter(id__in=team_ids_for_manager(user=user))
    return teams.filter(id=user.team_id) if user.team_id else teams.none()


def user_with_team_managers(*, user: User) -> list[User]:
    """The user and the active managers of the user's team (who hear about a rep's mailbox)."""
    audience = [user]
    if user.team_id:
        managers = User.objects.filter(
            Q(managed_teams__id=user.team_id) | Q(team_id=user.team_id, role=User.Role.MANAGER),
            organization_id=user.organization_id,
            is_active=True,
        ).distinct()
        audience.extend(manager for manager in managers if manager.pk != user.pk)
    return audience
