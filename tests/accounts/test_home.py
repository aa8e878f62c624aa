"""Logging in with email and password lands each role on its own home page."""

import pytest
from django.core.management import call_command

DEMO_USERS = {
    "rep@acme.test": b"Hello, Riley",
    "rep2@acme.test": b"Hello, Sam",
    "manager@acme.test": b"Your team: East",
    "admin@acme.test": b"Acme Sales",
}


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


@pytest.mark.parametrize(("email", "greeting"), DEMO_USERS.items())
def test_demo_user_logs_in_and_sees_their_home(client, demo, email, greeting):
    response = client.post(
        "/accounts/login/", {"login": email, "password": "mailroom"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    assert greeting in response.content
    for label in (b"Outbox", b"Templates", b"Campaigns", b"Analytics", b"Live feed"):
        assert label in response.content


def test_wrong_password_is_refused_with_a_message(client, demo):
    response = client.post("/accounts/login/", {"login": "rep@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_pages_require_login(client, db):
    for url in ("/", "/outbox/", "/templates/", "/prospects/", "/campaigns/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_templates_and_prospects_pages_list_real_data(client, demo):
    client.post("/accounts/login/", {"login": "rep@acme.test", "password": "mailroom"})
    templates = client.get("/templates/").content
    assert b"Intro: pipeline" in templates
    assert b"Break-up email" in templates  # shared by the manager
    assert b"Event invite" not in templates  # rep2's private template
    prospects = client.get("/prospects/?q=northwind").content
    assert b"Northwind" in prospects
    assert b"bounce.jamie@northwind.test" in prospects


def test_signup_is_closed(client, db):
    response = client.post(
        "/accounts/signup/", {"email": "new@x.test", "password1": "a-Long-pass-1"}
    )
    assert b"closed" in response.content.lower() or response.status_code == 404
