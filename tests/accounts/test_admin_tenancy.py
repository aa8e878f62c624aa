"""The Django admin as an organization admin: only their own organization's rows, anywhere.

The walk covers every registered admin model (discovered, not listed): change list, search,
change / delete / history pages, the add form's choices, and the actions, as Globex's admin
against the demo's Acme. Platform operators (superusers) keep seeing everything."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Organization, Team, User
from core.admin import OrganizationScopedAdmin, organization_admins_group
from outreach.models import Prospect
from tests.factories import OrganizationFactory, ProspectFactory, TeamFactory, UserFactory


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)
    return Organization.objects.get(slug="acme")


@pytest.fixture
def globex_admin(demo):
    globex = OrganizationFactory(name="Globex", slug="globex")
    user = UserFactory(
        organization=globex, role=User.Role.ADMIN, email="admin@globex.test", is_staff=True
    )
    user.groups.add(organization_admins_group())
    return user


def _url(model, view, *args):
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _acme_rows(model_admin, acme):
    if model_admin.platform_only:
        return model_admin.model._default_manager.all()
    return model_admin.model._default_manager.filter(**{model_admin.organization_path: acme.pk})


def test_every_admin_declares_its_scope():
    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, OrganizationScopedAdmin)
        or not (model_admin.platform_only or model_admin.organization_path)
    ]
    assert unscoped == []


def test_demo_roles_are_split(demo):
    org_admin = User.objects.get(email="admin@acme.test")
    assert org_admin.is_staff and not org_admin.is_superuser
    operator = User.objects.get(email="operator@mailroom.test")
    assert operator.is_superuser and operator.organization is None


def test_walk_every_admin_model_as_another_tenants_admin(client, demo, globex_admin):
    client.force_login(globex_admin)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    checked = 0
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        acme_rows = list(_acme_rows(model_admin, demo).values_list("pk", flat=True)[:20])
        changelist = client.get(_url(model, "changelist"))
        if model_admin.platform_only:
            assert changelist.status_code == 403, label
            assert _url(model, "changelist").encode() not in index.content, label
            continue
        assert changelist.status_code == 200, label
        shown = {obj.pk for obj in changelist.context["cl"].result_list}
        assert not shown & set(acme_rows), label
        for term in ("acme", "a", "@", "1"):
            found = client.get(_url(model, "changelist"), {"q": term})
            assert not {o.pk for o in found.context["cl"].result_list} & set(acme_rows), label
        assert b"Acme Sales" not in changelist.content, label
        for pk in acme_rows[:3]:
            for view in ("change", "delete", "history"):
                response = client.get(_url(model, view, pk))
                assert response.status_code in (302, 403, 404), (label, view, response.status_code)
        if acme_rows:
            checked += 1
            before = model._default_manager.filter(pk__in=acme_rows).count()
            for action in model_admin.get_actions(changelist.wsgi_request):
                client.post(
                    _url(model, "changelist"),
                    {"action": action, ACTION_CHECKBOX_NAME: acme_rows, "post": "yes"},
                )
            assert model._default_manager.filter(pk__in=acme_rows).count() == before, label
        add = client.get(_url(model, "add"))
        if add.status_code == 200:
            form = add.context["adminform"].form
            for name, field in form.fields.items():
                queryset = getattr(field, "queryset", None)
                if queryset is None or queryset.model not in admin.site._registry:
                    continue
                related_admin = admin.site._registry[queryset.model]
                leaked = set(queryset.values_list("pk", flat=True)) & set(
                    _acme_rows(related_admin, demo).values_list("pk", flat=True)
                )
                assert not leaked, (label, name)
    assert checked >= 10  # the demo has Acme rows in most tables


def test_another_tenants_admin_cannot_save_into_acme(client, demo, globex_admin):
    client.force_login(globex_admin)
    acme_rep = User.objects.get(email="rep@acme.test")
    response = client.post(
        _url(Prospect, "add"),
        {"email": "x@example.com", "organization": demo.pk, "email_status": "valid"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "organization" in response.context["adminform"].form.errors
    assert not Prospect.objects.filter(email="x@example.com").exists()

    own = ProspectFactory(organization=globex_admin.organization, email="own@globex.test")
    response = client.post(
        _url(Prospect, "change", own.pk),
        {
            "email": own.email,
            "organization": globex_admin.organization_id,
            "owner": acme_rep.pk,
            "email_status": "valid",
        },
    )
    assert "owner" in response.context["adminform"].form.errors
    own.refresh_from_db()
    assert own.owner_id != acme_rep.pk

    team = TeamFactory(organization=globex_admin.organization, name="North")
    client.post(_url(Team, "change", team.pk), {"name": "North", "organization": demo.pk})
    team.refresh_from_db()
    assert team.organization_id == globex_admin.organization_id


def test_an_organization_admin_works_in_their_own_rows(client, demo, globex_admin):
    client.force_login(globex_admin)
    response = client.post(
        _url(Prospect, "add"),
        {
            "email": "new@globex.test",
            "organization": globex_admin.organization_id,
            "email_status": "valid",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Prospect.objects.get(email="new@globex.test").organization == globex_admin.organization
    listed = client.get(_url(Prospect, "changelist"))
    assert [p.email for p in listed.context["cl"].result_list] == ["new@globex.test"]


def test_an_organization_admin_cannot_grant_themselves_more(client, demo, globex_admin):
    client.force_login(globex_admin)
    page = client.get(_url(User, "change", globex_admin.pk))
    assert page.status_code == 200
    assert "is_superuser" not in page.context["adminform"].form.fields
    assert "groups" not in page.context["adminform"].form.fields
    operator = User.objects.get(email="operator@mailroom.test")
    assert client.get(_url(User, "change", operator.pk)).status_code == 302
    assert client.get(_url(Organization, "add")).status_code == 403


def test_acme_admin_sees_acme_and_the_operator_sees_everyone(client, demo, globex_admin):
    client.force_login(User.objects.get(email="admin@acme.test"))
    listed = client.get(_url(Organization, "changelist"))
    assert [o.slug for o in listed.context["cl"].result_list] == ["acme"]
    prospects = client.get(_url(Prospect, "changelist"))
    assert prospects.context["cl"].result_count == 200
    client.force_login(User.objects.get(email="operator@mailroom.test"))
    listed = client.get(_url(Organization, "changelist"))
    assert {o.slug for o in listed.context["cl"].result_list} == {
        "acme",
        "legacy",
        "hanbit",
        "globex",
    }
    assert client.get(reverse("admin:analytics_dirtybucket_changelist")).status_code == 200


def test_organization_admin_grant_makes_a_scoped_staff_admin(client, demo):
    rep = User.objects.get(email="rep@acme.test")
    call_command("organization_admin_grant", "rep@acme.test", verbosity=0)
    rep.refresh_from_db()
    assert rep.is_staff and not rep.is_superuser and rep.role == "admin"
    client.force_login(rep)
    listed = client.get(_url(Organization, "changelist"))
    assert [o.slug for o in listed.context["cl"].result_list] == ["acme"]


def test_autocomplete_offers_only_the_own_organizations_rows(client, demo, globex_admin):
    client.force_login(globex_admin)
    for term in ("acme", "rep", ""):
        response = client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "outreach",
                "model_name": "prospect",
                "field_name": "owner",
                "term": term,
            },
        )
        assert response.status_code == 200
        shown = [row["text"] for row in response.json()["results"]]
        assert not [text for text in shown if "acme" in text], shown
        if not term:
            assert shown == ["admin@globex.test"]  # the control: their own users are offered
