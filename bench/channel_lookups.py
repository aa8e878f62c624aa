"""What delivery channels cost per page and per send, and what a token refresh costs.

Usage (from the project root):
    python bench/channel_lookups.py [--reps N] [--database URL] [--repeats N]

Builds N reps (default 10,000) with a connected Gmail each, a team SMTP, and choices for half
of them in a scratch database (SQLite file by default; pass --database postgres://… for
PostgreSQL), then measures:
- the every-page banner hook (channels_app.navigation.channel_banners): queries and time;
- channel_for_user (the send pipeline resolves the channel with it): queries and time;
- channel_access_token on a fresh token (the common case per send): queries and time;
- a real refresh against an in-process sandbox, Google (google-auth) and Microsoft (msal,
  including its authority discovery over TLS), wall time per refresh.
Medians of --repeats timings, each over 1,000 random users.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="mailroom-bench-channels-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = args.database or f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["MAILROOM_BROKER_DIR"] = f"{scratch}/broker"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import resolve
    from django.utils import timezone

    from accounts.models import Organization, User
    from channels_app.models import ChannelChoice, DeliveryChannel
    from channels_app.navigation import channel_banners
    from channels_app.selectors import channel_for_user
    from channels_app.tokens import channel_access_token
    from config.settings.base import mailroom_socialaccount_providers
    from sandbox.server import start_sandbox

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench", slug="bench")
    now = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"rep{i}@bench.test", organization=org, password="!") for i in range(args.reps)
    )
    channels = DeliveryChannel.objects.bulk_create(
        DeliveryChannel(
            organization=org,
            owner=user,
            kind="gmail",
            mailbox_address=user.email,
            access_token="ya29.bench",
            refresh_token="1//bench",
            token_expires_at=now + timezone.timedelta(hours=1),
        )
        for user in users
    )
    DeliveryChannel.objects.create(
        organization=org, kind="custom_smtp", is_team_default=True, host="smtp.bench.test"
    )
    ChannelChoice.objects.bulk_create(
        ChannelChoice(user=user, channel=channel)
        for user, channel in list(zip(users, channels, strict=True))[::2]
    )
    print(f"{connection.vendor}: {args.reps} reps, {len(channels) + 1} channels")

    factory = RequestFactory()
    match = resolve("/outbox/")

    def per_call(label, fn, sample):
        timings = []
        for _ in range(args.repeats):
            chosen = random.sample(sample, 1000)
            start = time.perf_counter()
            for item in chosen:
                fn(item)
            timings.append((time.perf_counter() - start) / len(chosen) * 1e3)
        with CaptureQueriesContext(connection) as queries:
            fn(sample[0])
        print(f"{label:<44} {len(queries):>2} queries  {statistics.median(timings):7.3f} ms")

    def banner(user):
        request = factory.get("/outbox/")
        request.user = user
        request.resolver_match = match
        channel_banners(request)

    per_call("banner hook, every page", banner, users)
    per_call("channel_for_user (chosen channel)", lambda u: channel_for_user(user=u), users[::2])
    per_call(
        "channel_for_user (team SMTP default)", lambda u: channel_for_user(user=u), users[1::2]
    )
    per_call(
        "channel_access_token, fresh token", lambda c: channel_access_token(channel=c), channels
    )

    running = start_sandbox(smtp_port=None)
    try:
        values = running.settings()
        namespace = {n: getattr(settings, n) for n in dir(settings) if n.isupper()}
        namespace.update(values)
        with override_settings(
            **values, SOCIALACCOUNT_PROVIDERS=mailroom_socialaccount_providers(namespace)
        ):
            for provider, kind in (("google", "gmail"), ("microsoft", "exchange_online")):
                client_id = (
                    settings.MAILROOM_GOOGLE_CLIENT_ID
                    if provider == "google"
                    else settings.MAILROOM_MICROSOFT_CLIENT_ID
                )
                grant = running.client.grant(
                    provider,
                    f"bench@{provider}.test",
                    client_id=client_id,
                    scopes=(
                        settings.MAILROOM_GOOGLE_SCOPES
                        if provider == "google"
                        else settings.MAILROOM_MICROSOFT_SCOPES
                    ),
                )
                channel = _oauth_channel(DeliveryChannel, User, org, provider, kind, grant)
                timings = []
                for _ in range(20):
                    start = time.perf_counter()
                    channel_access_token(channel=channel, force_refresh=True)
                    timings.append((time.perf_counter() - start) * 1e3)
                print(f"refresh {provider:<36} {statistics.median(timings):7.1f} ms (median of 20)")
    finally:
        running.stop()
    return 0


def _oauth_channel(DeliveryChannel, User, org, provider, kind, grant):  # noqa: N803
    owner = User.objects.create(email=f"bench@{provider}.test", organization=org)
    return DeliveryChannel.objects.create(
        organization=org,
        owner=owner,
        kind=kind,
        mailbox_address=owner.email,
        refresh_token=grant["refresh_token"],
        scopes="User.Read Mail.Send Mail.Read" if provider == "microsoft" else "",
    )


if __name__ == "__main__":
    sys.exit(main())
