"""``python -m sandbox``: run the sandbox until SIGTERM / SIGINT (honcho in ``make run``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .server import start_sandbox
from .state import DEFAULT_ROTATION_GRACE_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8900)
    parser.add_argument("--https-port", type=int, default=8901, help="-1 disables HTTPS")
    parser.add_argument("--smtp-port", type=int, default=2525, help="-1 disables SMTP")
    parser.add_argument(
        "--dns-port", type=int, default=8953, help="DNS (UDP and TCP) for the demo's domains"
    )
    parser.add_argument(
        "--smtp-ssl-port", type=int, default=None, help="implicit-TLS SMTP port (off unless given)"
    )
    parser.add_argument(
        "--smtp-user",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help="extra SMTP login (default mailroom:sandbox is always there)",
    )
    parser.add_argument(
        "--ews-user",
        action="append",
        default=[],
        metavar="EMAIL:PASSWORD",
        help="an Exchange on-prem (EWS) mailbox and its password (repeatable)",
    )
    parser.add_argument("--imap-port", type=int, default=1143, help="IMAP (STARTTLS); -1 disables")
    parser.add_argument(
        "--imap-ssl-port", type=int, default=None, help="implicit-TLS IMAP port (off unless given)"
    )
    parser.add_argument(
        "--imap-user",
        action="append",
        default=[],
        metavar="LOGIN:PASSWORD",
        help="an SMTP login with an IMAP mailbox: bounces of its mail land there (repeatable)",
    )
    parser.add_argument("--smtp-no-auth", action="store_true", help="accept MAIL FROM without AUTH")
    parser.add_argument("--state-file", default=None, help="JSON file that survives restarts")
    parser.add_argument(
        "--cert-dir",
        default="var/sandbox",
        help="where ca.pem (the CA bundle clients trust) and key.pem are written",
    )
    parser.add_argument(
        "--auto-consent",
        action="store_true",
        help="authorize pages redirect at once, as if Allow was clicked",
    )
    parser.add_argument(
        "--rotation-grace",
        type=float,
        default=DEFAULT_ROTATION_GRACE_SECONDS,
        help="seconds a rotated Microsoft refresh token stays valid",
    )
    parser.add_argument(
        "--pubsub-push",
        action="append",
        default=[],
        metavar="TOPIC=ENDPOINT",
        help="a Pub/Sub push subscription: Gmail watch notifications for TOPIC are POSTed to "
        "ENDPOINT (audience ENDPOINT) signed as --pubsub-service-account (repeatable)",
    )
    parser.add_argument(
        "--pubsub-service-account",
        default="gmail-push@mailroom-sandbox.iam.gserviceaccount.com",
        help="the service account push subscriptions sign their OIDC tokens as",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    users = dict(item.split(":", 1) for item in args.smtp_user)
    ews_users = dict(item.split(":", 1) for item in args.ews_user)
    imap_users = dict(item.rsplit(":", 1) for item in args.imap_user)
    running = start_sandbox(
        host=args.host,
        http_port=args.http_port,
        https_port=None if args.https_port < 0 else args.https_port,
        smtp_port=None if args.smtp_port < 0 else args.smtp_port,
        smtp_ssl_port=args.smtp_ssl_port,
        dns_port=None if args.dns_port < 0 else args.dns_port,
        state_file=args.state_file,
        cert_dir=args.cert_dir,
        smtp_auth_required=not args.smtp_no_auth,
        smtp_users=users,
        ews_users=ews_users,
        imap_port=None if args.imap_port < 0 else args.imap_port,
        imap_ssl_port=args.imap_ssl_port,
        imap_users=imap_users,
        auto_consent=args.auto_consent,
        rotation_grace_seconds=args.rotation_grace,
        verbose=args.verbose,
    )
    for item in args.pubsub_push:
        topic, _, endpoint = item.partition("=")
        running.client.pubsub_subscribe(
            topic, endpoint=endpoint, service_account=args.pubsub_service_account
        )
    print("Mailroom sandbox listening:", flush=True)
    print(f"  HTTP   {running.http_url}   (control API: {running.http_url}/_sandbox/)")
    if running.https_url:
        print(f"  HTTPS  {running.https_url}  (CA bundle: {running.ca_file})")
    if running.smtp_port:
        print(f"  SMTP   {running.smtp_host}:{running.smtp_port}  (AUTH PLAIN/LOGIN, STARTTLS)")
    if running.smtp_ssl_port:
        print(f"  SMTPS  {running.smtp_host}:{running.smtp_ssl_port}")
    print(f"  EWS    {running.ews_url}  (Exchange on-prem, NTLM)")
    if running.imap_port:
        print(f"  IMAP   {running.host}:{running.imap_port}  (STARTTLS, IDLE)")
    if running.imap_ssl_port:
        print(f"  IMAPS  {running.host}:{running.imap_ssl_port}")
    for login in sorted(running.store.imap.by_login):
        print(f"  IMAP   mailbox of SMTP login {login} (bounces of its mail land there)")
    if running.dns_port:
        print(f"  DNS    {running.host}:{running.dns_port}  (UDP and TCP: the demo's domains)")
    if args.state_file:
        print(f"  state  {args.state_file}")
    for login, hook in running.store.esp_webhooks.items():
        print(f"  ESP    SMTP login {login} acts as {hook['esp']} (webhook events posted)")
    print(f"  ESP dashboard (paste a webhook URL): {running.http_url}/esp/")
    for name, value in running.settings().items():
        print(f"  {name}={value}")
    sys.stdout.flush()

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop()  # also writes the state file one last time
    print("Mailroom sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
