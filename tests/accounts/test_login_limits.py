"""Login rate limits live in the shared cache: every web process counts the same attempts, and
a lockout ends by itself (the right password works again once the window has passed)."""

from datetime import timedelta

import pytest
import time_machine
from allauth.core.internal import ratelimit
from django.conf import settings
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from config.settings.base import mailroom_caches
from tests.factories import UserFactory

PASSWORD = "right-horse-battery"


@pytest.fixture
def member(db):
    user = UserFactory(email="member@acme.test")
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, password):
    return client.post(
        reverse("account_login"), {"login": "member@acme.test", "password": password}
    )


def test_the_default_cache_is_shared_by_processes():
    backend = settings.CACHES["default"]["BACKEND"]
    assert backend != "django.core.cache.backends.locmem.LocMemCache"
    assert backend in (
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.redis.RedisCache",
    )


def test_two_cache_clients_share_the_failed_login_count(client, member, monkeypatch):
    """Two web workers are two cache clients: three failures counted through one and two
    through the other lock the address out for both."""
    worker_a = caches.create_connection("default")
    worker_b = caches.create_connection("default")
    assert worker_a is not worker_b
    for worker, failures in ((worker_a, 3), (worker_b, 2)):
        monkeypatch.setattr(ratelimit, "cache", worker)
        for _ in range(failures):
            assert "too many" not in _login(client, "wrong").content.decode().lower()
    monkeypatch.setattr(ratelimit, "cache", worker_a)
    refused = _login(client, PASSWORD)
    assert "too many" in refused.content.decode().lower()
    assert "_auth_user_id" not in client.session


def test_a_lockout_ends_and_the_right_password_works_again(client, member):
    for _ in range(5):
        _login(client, "wrong")
    assert "too many" in _login(client, PASSWORD).content.decode().lower()
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        response = _login(client, PASSWORD)
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(member.pk)


def test_a_success_does_not_count_toward_the_limit(client, member):
    for _ in range(10):
        assert _login(client, PASSWORD).status_code == 302
        client.logout()


@pytest.mark.parametrize(
    ("cache_url", "broker", "backend"),
    [
        ("", "filesystem://", "django.core.cache.backends.db.DatabaseCache"),
        ("", "redis://redis:6379/0", "django.core.cache.backends.redis.RedisCache"),
        ("redis://cache:6379/2", "filesystem://", "django.core.cache.backends.redis.RedisCache"),
        (
            "dbcache://my_cache",
            "redis://redis:6379/0",
            "django.core.cache.backends.db.DatabaseCache",
        ),
    ],
)
def test_the_cache_follows_the_environment(cache_url, broker, backend):
    assert mailroom_caches(cache_url=cache_url, broker_url=broker)["default"]["BACKEND"] == backend
