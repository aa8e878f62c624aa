"""What a user meets off the beaten path: a missing page, a server error, the browser's icon
request, and the API tokens page reachable from every page."""

from django.test import RequestFactory
from django.views.defaults import server_error


def test_a_missing_page_is_the_products_own_page_with_a_way_home(client, rep):
    client.force_login(rep)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "/no-such-page/" in body
    assert 'href="/"' in body  # back to the home page
    assert "Outbox" in body  # inside the product's layout, navigation included


def test_a_missing_page_for_a_visitor_who_is_not_signed_in_has_no_navigation(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Outbox" not in response.content.decode()


def test_a_server_error_page_needs_nothing_but_the_template(db):
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "favicon.svg" in body


def test_the_browsers_favicon_request_finds_the_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")


def test_every_page_links_the_icon_and_the_api_tokens_page(client, rep):
    client.force_login(rep)
    body = client.get("/outbox/").content.decode()
    assert 'rel="icon"' in body
    assert 'href="/settings/api-tokens/"' in body


def test_a_page_the_role_does_not_allow_says_why_inside_the_product(client, rep):
    client.force_login(rep)
    response = client.get("/suppressions/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You cannot open this page" in body
    assert "Only your organization&#x27;s admins manage the suppression list." in body
    assert "Outbox" in body and 'href="/"' in body
