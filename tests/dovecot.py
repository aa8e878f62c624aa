"""A throwaway Dovecot (Debian's dovecot-imapd, which `.ci/run` installs): an IMAP server
nobody here wrote, so Mailroom's IMAP client and the sandbox's IMAP server cannot agree on
something a real server would refuse.

Its own configuration in a temporary folder: a non-privileged port on 127.0.0.1 (plain with
STARTTLS) and one with implicit TLS, the sandbox's self-signed certificate, any login with the
password PASSWORD (a static passdb), and Maildir mailboxes in the same folder. `deliver` drops
a message into a mailbox's Maildir `new/` the way an MTA does; `rebuild` renumbers a mailbox
under a new UIDVALIDITY."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.tls import generate_self_signed

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
PASSWORD = "imap-secret"  # noqa: S105 - every test login's


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Dovecot:
    root: Path
    port: int
    ssl_port: int
    ca_file: str
    uid: int
    gid: int
    process: subprocess.Popen | None = None
    doveadm: str = DOVEADM
    uidvalidity_serial: int = 0
    host: str = "127.0.0.1"

    def add_user(self, address: str, password: str) -> None:
        """A mailbox (every login's password is PASSWORD: Dovecot's static passdb)."""
        assert password == PASSWORD, "Dovecot's logins all have the password PASSWORD"
        maildir = self.maildir(address)
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self._own(self.root / "mail")

    def maildir(self, address: str) -> Path:
        return self.root / "mail" / address

    def deliver(self, address: str, raw: bytes) -> None:
        """Write the message into the mailbox's Maildir as an MTA does (tmp/, then new/)."""
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.mailroom-test"
        maildir = self.maildir(address)
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        tmp.rename(maildir / "new" / name)

    def rebuild(self, address: str) -> None:
        """Forget the folder's UIDs (dovecot-uidlist and the index go, the messages are numbered
        again from 1) and give it a new UIDVALIDITY, as after a server rebuilt or restored a
        mailbox. Dovecot takes the clock's seconds as a new UIDVALIDITY, so `doveadm` sets one
        that differs whenever this runs."""
        maildir = self.maildir(address)
        for path in maildir.iterdir():
            if path.name.startswith("dovecot"):
                path.unlink()
        for message in (maildir / "cur").iterdir():
            message.rename(maildir / "new" / message.name.split(":", 1)[0])
        self.uidvalidity_serial += 1
        subprocess.run(  # noqa: S603 - our own binary and config
            [
                self.doveadm,
                "-c",
                str(self.root / "dovecot.conf"),
                "mailbox",
                "update",
                "-u",
                address,
                "--uid-validity",
                str(int(time.time()) + 1000 * self.uidvalidity_serial),
                "INBOX",
            ],
            check=True,
            capture_output=True,
        )

    def _own(self, path: Path) -> None:
        for folder, _dirs, files in os.walk(path):
            os.chown(folder, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(folder, name), self.uid, self.gid)

    def log(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text(errors="replace") if log.exists() else ""


def _config(server: Dovecot, *, login_user: str, key_file: str, extra: str = "") -> str:
    root = server.root
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{server.ca_file}
ssl_key = <{key_file}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_internal_user = {login_user}
default_login_user = {login_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(login_user).pw_gid).gr_name}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={server.uid} gid={server.gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.ssl_port}
  }}
}}
{extra}
"""


@contextlib.contextmanager
def running_dovecot(*, extra_config: str = "") -> Iterator[Dovecot]:
    """A Dovecot of its own until the block ends (the fixture below; bench/imap_poll.py);
    `extra_config`: more dovecot.conf settings (say, a CAPABILITY without IDLE)."""
    if not os.path.exists(DOVECOT):
        raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)")
    # Dovecot's login processes refuse to run as root, and so do mail processes with uid 0:
    # as root, everything but the master runs as nobody (the folder is theirs).
    login_user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    account = pwd.getpwnam(login_user)
    root = Path(tempfile.mkdtemp(prefix="mailroom-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    tls = generate_self_signed(root / "tls")
    os.chmod(tls.key_file, 0o644)  # read by Dovecot's processes, whoever they run as
    server = Dovecot(
        root=root,
        port=_free_port(),
        ssl_port=_free_port(),
        ca_file=tls.cert_file,
        uid=account.pw_uid,
        gid=account.pw_gid,
    )
    server._own(root / "mail")
    config = root / "dovecot.conf"
    config.write_text(
        _config(server, login_user=login_user, key_file=tls.key_file, extra=extra_config)
    )
    server.process = subprocess.Popen(  # noqa: S603 - our own binary and config
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((server.host, server.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if server.process.poll() is not None or time.monotonic() > deadline:
                output = server.process.stdout.read().decode(errors="replace")  # type: ignore[union-attr]
                raise RuntimeError(f"Dovecot did not start: {output}\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    try:
        with running_dovecot() as server:
            yield server
    except RuntimeError as error:
        pytest.fail(str(error))
