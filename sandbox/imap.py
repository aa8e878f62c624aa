"""The IMAP look-alike: the mailbox behind an SMTP account, speaking enough IMAP4rev1
(RFC 3501) for imaplib and Mailroom's poller: CAPABILITY, STARTTLS (and implicit TLS on its own
port), LOGIN, AUTHENTICATE PLAIN, SELECT / EXAMINE, FETCH and SEARCH by sequence number or UID,
IDLE (RFC 2177), NOOP, CLOSE, LOGOUT. One folder per login, INBOX.

A mailbox's login is an SMTP login of the sandbox (`--imap-user LOGIN:PASSWORD` makes both):
mail submitted over SMTP with that login is relayed "to the internet", so the SMTP server
accepts every recipient and what the magic addresses (sandbox/rules.py) bring back — a bounce,
a reply, an out-of-office — lands in this INBOX a moment later, as with a real provider.

Realism that keeps clients honest: UIDs only grow, UIDVALIDITY changes when the mailbox is
rebuilt (`rebuild`: every message renumbered), FETCH BODY[] in a SELECTed folder sets \\Seen
(BODY.PEEK[] and EXAMINE do not), EXAMINE refuses every change with [READ-ONLY], and every
attempt to change something is recorded (`mutation_attempts`) so a test can say none came.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import mime
from .rules import rule_for

HOSTNAME = "imap.sandbox.mailroom.test"
FLAGS = r"(\Answered \Flagged \Deleted \Seen \Draft)"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_TOKEN = re.compile(rb'\s*(?:"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}$|(\()|(\))|([^\s()"]+))')
_SECTION = re.compile(r"^(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$", re.I)
_WHOLE_MESSAGE = {"BODY[]", "BODY.PEEK[]", "RFC822"}
MUTATIONS = {"STORE", "COPY", "MOVE", "EXPUNGE", "APPEND", "CREATE", "DELETE", "RENAME"}


@dataclass
class ImapMessage:
    uid: int
    raw: bytes
    internal_date: float
    flags: set[str] = field(default_factory=set)

    @property
    def header_block(self) -> bytes:
        head, sep, _ = self.raw.partition(b"\r\n\r\n")
        return head + b"\r\n" + (b"\r\n" if sep else b"")


@dataclass
class ImapMailbox:
    login: str
    password: str
    uidvalidity: int
    uidnext: int = 1
    messages: list[ImapMessage] = field(default_factory=list)
    # Sessions in IDLE: each is told "* N EXISTS" when a message arrives.
    idlers: list[Any] = field(default_factory=list)
    mutation_attempts: list[str] = field(default_factory=list)
    # Faults: the next N commands named here answer NO (e.g. {"FETCH": 1}).
    faults: dict[str, int] = field(default_factory=dict)
    logins: int = 0
    commands: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "uidvalidity": self.uidvalidity,
            "uidnext": self.uidnext,
            "messages": [
                {
                    "uid": m.uid,
                    "flags": sorted(m.flags),
                    "message_id": mime.header(mime.parse_headers(m.raw), "Message-ID"),
                    "subject": mime.decoded_header(mime.parse_headers(m.raw), "Subject"),
                }
                for m in self.messages
            ],
            "mutation_attempts": list(self.mutation_attempts),
            "logins": self.logins,
            "commands": self.commands,
        }


def _crlf(raw: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", raw)


def _new_uidvalidity(previous: int = 0) -> int:
    return max(int(time.time()), previous + 1)


class ImapMailboxes:
    """Every IMAP mailbox, by login; shares the sandbox Store's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.by_login: dict[str, ImapMailbox] = {}

    def ensure(self, login: str, password: str) -> ImapMailbox:
        with self.lock:
            box = self.by_login.get(login)
            if box is None:
                box = self.by_login[login] = ImapMailbox(login, password, _new_uidvalidity())
            box.password = password
            return box

    def get(self, login: str) -> ImapMailbox | None:
        with self.lock:
            return self.by_login.get(login)

    def deliver(self, login: str, raw: bytes, *, internal_date: float | None = None) -> int:
        """Append a message to the login's INBOX; tells its IDLE sessions. Returns its UID."""
        with self.lock:
            box = self.by_login[login]
            message = ImapMessage(box.uidnext, _crlf(raw), internal_date or time.time())
            box.uidnext += 1
            box.messages.append(message)
            idlers = list(box.idlers)
            count = len(box.messages)
        for notify in idlers:
            notify(count)
        return message.uid

    def rebuild(self, login: str) -> int:
        """The server rebuilt the folder: a new UIDVALIDITY, every message numbered again."""
        with self.lock:
            box = self.by_login[login]
            box.uidvalidity = _new_uidvalidity(box.uidvalidity)
            for uid, message in enumerate(box.messages, start=1):
                message.uid = uid
            box.uidnext = len(box.messages) + 1
            return box.uidvalidity

    def clear(self) -> None:
        with self.lock:
            self.by_login.clear()


def relay_outcomes(store: Any, *, login: str, raw: bytes, recipients: list[str]) -> None:
    """What the internet sends back for mail submitted by `login`, into its IMAP INBOX: a DSN
    for the recipients a bounce rule matches (one report, as an MTA writes it), a reply, an
    out-of-office."""
    mailboxes: ImapMailboxes = store.imap
    box = mailboxes.get(login)
    if box is None:
        return
    sender = mime.sender_address(mime.parse_headers(raw))[1] or login
    failed = []
    for address in recipients:
        rule = rule_for(address)
        if rule is None:
            continue
        if rule.behaviour == "bounce":
            failed.append((address, rule))
        elif rule.behaviour == "reply":
            mailboxes.deliver(login, mime.human_reply(sender, address, raw, provider="smtp"))
        else:
            mailboxes.deliver(login, mime.out_of_office(sender, address, raw, provider="smtp"))
    if failed:
        mailboxes.deliver(login, mime.postfix_dsn(sender, raw, failed, reporting=HOSTNAME))


# --- the protocol ------------------------------------------------------------------------------


class _Bad(Exception):
    """A command the server answers BAD (syntax)."""


class _No(Exception):
    """A command the server answers NO."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _internal_date(epoch: float) -> str:
    t = time.gmtime(epoch)
    return (
        f"{t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _parse_date(text: str) -> float:
    day, month, year = text.split("-")
    return time.mktime((int(year), _MONTHS.index(month.title()) + 1, int(day), 0, 0, 0, 0, 0, 0))


def _in_set(number: int, spec: str, largest: int) -> bool:
    """Whether `number` is in an IMAP sequence set ("1:3,7,9:*"); * is `largest`."""
    for part in spec.split(","):
        low, sep, high = part.partition(":")
        first = largest if low == "*" else int(low)
        last = (largest if high == "*" else int(high)) if sep else first
        if min(first, last) <= number <= max(first, last):
            return True
    return False


def _header_fields(block: bytes, names: list[str], *, exclude: bool = False) -> bytes:
    wanted = {name.lower() for name in names}
    out, keep = [], False
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].decode("latin-1").strip().lower()
        keep = (name in wanted) != exclude
        if keep:
            out.append(line)
    return b"\r\n".join(out) + (b"\r\n" if out else b"") + b"\r\n"


class _Session(socketserver.StreamRequestHandler):
    server: ImapServer
    # A response is often two writes (the data, then the tagged line): without this, Nagle's
    # algorithm and the client's delayed ACK hold the second back ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        if self.server.implicit_tls and self.server.tls_context is not None:
            self.request.settimeout(10)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()
        self.request.settimeout(300)
        self.box: ImapMailbox | None = None
        self.selected = False
        self.readonly = False
        self.tls = self.server.implicit_tls
        self.write_lock = threading.Lock()

    # I/O ----------------------------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self.write_lock:
            self.wfile.write(data)
            self.wfile.flush()

    def line(self) -> bytes | None:
        data = self.rfile.readline(65536)
        return data.rstrip(b"\r\n") if data else None

    def arguments(self, rest: bytes) -> list[Any]:
        """Atoms, quoted strings, literals (read from the line after) and parenthesized lists."""
        stack: list[list[Any]] = [[]]
        while rest.strip():
            match = _TOKEN.match(rest)
            if match is None:
                raise _Bad("Could not parse the command")
            quoted, literal, opening, closing, atom = match.groups()
            rest = rest[match.end() :]
            if quoted is not None:
                stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8", "replace"))
            elif literal is not None:
                if not match.group(0).rstrip().endswith(b"+}"):
                    self.send("+ Ready for literal data\r\n")
                stack[-1].append(self.rfile.read(int(literal)).decode("utf-8", "replace"))
                rest = self.line() or b""
            elif opening:
                stack.append([])
            elif closing:
                if len(stack) == 1:
                    raise _Bad("Unbalanced parentheses")
                inner = stack.pop()
                stack[-1].append(inner)
            else:
                stack[-1].append(atom.decode("utf-8", "replace"))
        if len(stack) != 1:
            raise _Bad("Unbalanced parentheses")
        return stack[0]

    # the loop -----------------------------------------------------------------------------
    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {self.capabilities()}] {HOSTNAME} Mailroom sandbox ready\r\n")
        try:
            while True:
                line = self.line()
                if line is None:
                    return
                tag, _, rest = line.partition(b" ")
                command, _, rest = rest.partition(b" ")
                name = command.decode("ascii", "replace").upper()
                tag_text = tag.decode("ascii", "replace")
                if not tag or not name:
                    self.send(f"{tag_text or '*'} BAD Empty command\r\n")
                    continue
                try:
                    if self.dispatch(tag_text, name, rest) == "logout":
                        return
                except _Bad as error:
                    self.send(f"{tag_text} BAD {error}\r\n")
                except _No as error:
                    self.send(f"{tag_text} NO {error}\r\n")
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            self.stop_idle()

    def capabilities(self) -> str:
        caps = [
            "IMAP4rev1",
            *(["IDLE"] if self.server.offer_idle else []),
            "LITERAL+",
            "AUTH=PLAIN",
        ]
        if not self.tls and self.server.tls_context is not None:
            caps.append("STARTTLS")
        return " ".join(caps)

    def dispatch(self, tag: str, name: str, rest: bytes) -> str | None:  # noqa: C901 - a table
        if self.box is not None:
            with self.server.mailboxes.lock:
                self.box.commands += 1
        if name == "CAPABILITY":
            self.send(f"* CAPABILITY {self.capabilities()}\r\n{tag} OK CAPABILITY completed\r\n")
        elif name == "NOOP" or name == "CHECK":
            self.send_exists_if_changed()
            self.send(f"{tag} OK {name} completed\r\n")
        elif name == "LOGOUT":
            self.send(f"* BYE {HOSTNAME} logging out\r\n{tag} OK LOGOUT completed\r\n")
            return "logout"
        elif name == "STARTTLS":
            self.starttls(tag)
        elif name == "LOGIN":
            args = self.arguments(rest)
            if len(args) != 2:
                raise _Bad("LOGIN takes a user name and a password")
            self.login(tag, str(args[0]), str(args[1]))
        elif name == "AUTHENTICATE":
            self.authenticate(tag, self.arguments(rest))
        elif self.box is None:
            raise _Bad("Log in first")
        elif name in ("SELECT", "EXAMINE"):
            self.select(tag, self.arguments(rest), readonly=name == "EXAMINE")
        elif name == "IDLE" and self.server.offer_idle:
            self.idle(tag)
        elif name in MUTATIONS or (
            name == "UID"
            and rest.split(b" ")[0].upper() in (b"STORE", b"COPY", b"MOVE", b"EXPUNGE")
        ):
            self.refuse_change(name, rest)
        elif not self.selected:
            raise _Bad("Select a mailbox first")
        elif name == "UID":
            sub, _, rest = rest.partition(b" ")
            self.fetch_or_search(tag, sub.decode().upper(), self.arguments(rest), by_uid=True)
        elif name in ("FETCH", "SEARCH"):
            self.fetch_or_search(tag, name, self.arguments(rest), by_uid=False)
        elif name in ("CLOSE", "UNSELECT"):
            self.selected = False
            self.send(f"{tag} OK {name} completed\r\n")
        else:
            raise _Bad(f"Unknown command {name}")
        return None

    # commands -----------------------------------------------------------------------------
    def starttls(self, tag: str) -> None:
        if self.tls or self.server.tls_context is None:
            raise _Bad("STARTTLS is not offered here")
        self.send(f"{tag} OK Begin TLS negotiation now\r\n")
        connection = self.server.tls_context.wrap_socket(self.request, server_side=True)
        self.request = connection
        self.rfile = connection.makefile("rb")
        self.wfile = connection.makefile("wb")
        self.tls = True

    def login(self, tag: str, login: str, password: str) -> None:
        box = self.server.mailboxes.get(login)
        if box is None or box.password != password:
            time.sleep(0.05)
            raise _No("[AUTHENTICATIONFAILED] Authentication failed.")
        with self.server.mailboxes.lock:
            box.logins += 1
        self.box = box
        self.send(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in\r\n")

    def authenticate(self, tag: str, args: list[Any]) -> None:
        if not args or str(args[0]).upper() != "PLAIN":
            raise _No("[CANNOT] Only AUTHENTICATE PLAIN is offered")
        if len(args) > 1:
            response = str(args[1])
        else:
            self.send("+ \r\n")
            response = (self.line() or b"").decode("ascii", "replace")
        if response == "*":
            raise _Bad("AUTHENTICATE cancelled")
        try:
            _authzid, user, password = base64.b64decode(response).split(b"\0")
        except ValueError:
            raise _Bad("Malformed PLAIN response") from None
        self.login(tag, user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))

    def select(self, tag: str, args: list[Any], *, readonly: bool) -> None:
        if not args or str(args[0]).upper() != "INBOX":
            self.selected = False
            raise _No("[NONEXISTENT] Mailbox doesn't exist")
        assert self.box is not None
        if self.take_fault("EXAMINE" if readonly else "SELECT"):
            raise _No("[UNAVAILABLE] The mailbox is busy, try again")
        with self.server.mailboxes.lock:
            count, validity, uidnext = (
                len(self.box.messages),
                self.box.uidvalidity,
                self.box.uidnext,
            )
            unseen = next(
                (i for i, m in enumerate(self.box.messages, 1) if "\\Seen" not in m.flags), None
            )
        self.selected, self.readonly, self.known_exists = True, readonly, count
        lines = [
            f"* FLAGS {FLAGS}",
            f"* OK [PERMANENTFLAGS {'()' if readonly else FLAGS}] Flags permitted.",
            f"* {count} EXISTS",
            "* 0 RECENT",
            f"* OK [UIDVALIDITY {validity}] UIDs valid",
            f"* OK [UIDNEXT {uidnext}] Predicted next UID",
        ]
        if unseen:
            lines.append(f"* OK [UNSEEN {unseen}] First unseen.")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        lines.append(f"{tag} OK [{mode}] {'EXAMINE' if readonly else 'SELECT'} completed")
        self.send("\r\n".join(lines) + "\r\n")

    def refuse_change(self, name: str, rest: bytes) -> None:
        assert self.box is not None
        with self.server.mailboxes.lock:
            self.box.mutation_attempts.append(
                f"{name} {rest.decode('utf-8', 'replace')}".strip()[:200]
            )
        if self.selected and self.readonly:
            raise _No("[READ-ONLY] Mailbox is read-only")
        raise _No("[CANNOT] The sandbox does not change mailboxes")

    def take_fault(self, command: str) -> bool:
        assert self.box is not None
        with self.server.mailboxes.lock:
            remaining = self.box.faults.get(command, 0)
            if remaining <= 0:
                return False
            self.box.faults[command] = remaining - 1
            return True

    def numbered(self) -> list[tuple[int, ImapMessage]]:
        assert self.box is not None
        with self.server.mailboxes.lock:
            return list(enumerate(self.box.messages, start=1))

    def fetch_or_search(self, tag: str, command: str, args: list[Any], *, by_uid: bool) -> None:
        if command not in ("FETCH", "SEARCH"):
            raise _Bad(f"UID {command} is not supported")
        if self.take_fault(command):
            raise _No(f"[UNAVAILABLE] {command} failed for now, try again")
        messages = self.numbered()
        prefix = "UID " if by_uid else ""
        if command == "SEARCH":
            found = [
                (m.uid if by_uid else seq)
                for seq, m in messages
                if self.matches(seq, m, args, largest_seq=len(messages))
            ]
            numbers = "".join(f" {n}" for n in found)
            self.send(f"* SEARCH{numbers}\r\n{tag} OK {prefix}SEARCH completed\r\n")
            return
        if len(args) < 2:
            raise _Bad("FETCH takes a set and items")
        spec, items = str(args[0]), args[1] if isinstance(args[1], list) else args[1:]
        whole = any(isinstance(i, str) and i.upper() in _WHOLE_MESSAGE for i in items)
        if whole and self.take_fault("FETCH BODY[]"):
            raise _No("[UNAVAILABLE] The message could not be read for now, try again")
        largest = (messages[-1][1].uid if by_uid else len(messages)) if messages else 0
        for seq, message in messages:
            if largest and _in_set(message.uid if by_uid else seq, spec, largest):
                self.send_fetch(
                    seq,
                    message,
                    [str(i) if not isinstance(i, list) else i for i in items],
                    by_uid=by_uid,
                )
        self.send(f"{tag} OK {prefix}FETCH completed\r\n")

    def matches(self, seq: int, message: ImapMessage, args: list[Any], *, largest_seq: int) -> bool:
        index = 0
        largest_uid = self.box.messages[-1].uid if self.box and self.box.messages else 0
        while index < len(args):
            key = str(args[index]).upper()
            index += 1
            if key == "ALL":
                continue
            if key == "UID":
                if not _in_set(message.uid, str(args[index]), largest_uid):
                    return False
                index += 1
            elif key == "SINCE":
                if message.internal_date < _parse_date(str(args[index])):
                    return False
                index += 1
            elif key == "HEADER":
                name, value = str(args[index]), str(args[index + 1]).lower()
                index += 2
                fields = _header_fields(message.header_block, [name]).decode("utf-8", "replace")
                if value not in fields.lower():
                    return False
            elif key == "UNSEEN":
                if "\\Seen" in message.flags:
                    return False
            elif re.fullmatch(r"[\d:*,]+", key):
                if not _in_set(seq, key, largest_seq):
                    return False
            else:
                raise _Bad(f"SEARCH {key} is not supported")
        return True

    def send_fetch(self, seq: int, message: ImapMessage, items: list[Any], *, by_uid: bool) -> None:
        plain: list[str] = []
        literals: list[tuple[str, bytes]] = []
        names = [i.upper() if isinstance(i, str) else i for i in items]
        flatten: list[Any] = []
        for item in names:  # "BODY.PEEK[HEADER.FIELDS" "(FROM ...)" "]" come apart as tokens
            if isinstance(item, list) and flatten and isinstance(flatten[-1], str):
                flatten[-1] = f"{flatten[-1]} ({' '.join(str(x).upper() for x in item)})"
            elif isinstance(item, str) and item.startswith("]") and flatten:
                flatten[-1] += item
            else:
                flatten.append(item)
        if by_uid and "UID" not in flatten:
            flatten.insert(0, "UID")
        set_seen = False
        for item in flatten:
            if not isinstance(item, str):
                raise _Bad("Could not parse the FETCH items")
            if item == "UID":
                plain.append(f"UID {message.uid}")
            elif item == "FLAGS":
                plain.append(f"FLAGS ({' '.join(sorted(message.flags))})")
            elif item == "INTERNALDATE":
                plain.append(f'INTERNALDATE "{_internal_date(message.internal_date)}"')
            elif item == "RFC822.SIZE":
                plain.append(f"RFC822.SIZE {len(message.raw)}")
            elif item in ("RFC822", "RFC822.HEADER"):
                data = message.raw if item == "RFC822" else message.header_block
                literals.append((item, data))
                set_seen |= item == "RFC822"
            else:
                match = _SECTION.match(item)
                if match is None:
                    raise _Bad(f"FETCH {item} is not supported")
                kind, section = match.group(1).upper(), match.group(2).upper()
                if section == "":
                    data = message.raw
                elif section == "HEADER":
                    data = message.header_block
                elif section == "TEXT":
                    data = message.raw.partition(b"\r\n\r\n")[2]
                elif section.startswith(("HEADER.FIELDS ", "HEADER.FIELDS.NOT ")):
                    names_part = section.split("(", 1)[1].rstrip(")").split()
                    data = _header_fields(
                        message.header_block, names_part, exclude=".NOT" in section
                    )
                else:
                    raise _Bad(f"FETCH section {section} is not supported")
                if match.group(3) is not None:
                    start, length = int(match.group(3)), int(match.group(4))
                    data = data[start : start + length]
                    section = f"{section}]<{start}"
                    literals.append((f"BODY[{section}>", data))
                else:
                    literals.append((f"BODY[{section}]", data))
                set_seen |= kind == "BODY"
        if set_seen and not self.readonly and "\\Seen" not in message.flags:
            with self.server.mailboxes.lock:
                message.flags.add("\\Seen")
            if "FLAGS" not in flatten:
                plain.append(f"FLAGS ({' '.join(sorted(message.flags))})")
        out = f"* {seq} FETCH (" + " ".join(plain)
        chunks = [out.encode()]
        for index, (name, data) in enumerate(literals):
            space = " " if plain or index else ""
            chunks.append(f"{space}{name} {{{len(data)}}}\r\n".encode() + data)
        chunks.append(b")\r\n")
        self.send(b"".join(chunks))

    def send_exists_if_changed(self) -> None:
        if not self.selected or self.box is None:
            return
        with self.server.mailboxes.lock:
            count = len(self.box.messages)
        if count != getattr(self, "known_exists", count):
            self.send(f"* {count} EXISTS\r\n")
        self.known_exists = count

    def idle(self, tag: str) -> None:
        assert self.box is not None

        def notify(count: int) -> None:
            with contextlib.suppress(OSError):
                self.send(f"* {count} EXISTS\r\n")
            self.known_exists = count

        with self.server.mailboxes.lock:
            self.box.idlers.append(notify)
        self.idle_notify = notify
        try:
            self.send("+ idling\r\n")
            self.send_exists_if_changed()
            while True:
                line = self.line()
                if line is None:
                    return
                if line.strip().upper() == b"DONE":
                    break
            self.send(f"{tag} OK IDLE terminated\r\n")
        finally:
            self.stop_idle()

    def stop_idle(self) -> None:
        notify = getattr(self, "idle_notify", None)
        if notify is not None and self.box is not None:
            with self.server.mailboxes.lock, contextlib.suppress(ValueError):
                self.box.idlers.remove(notify)
        self.idle_notify = None


class ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        mailboxes: ImapMailboxes,
        *,
        tls_context: ssl.SSLContext | None,
        implicit_tls: bool,
        offer_idle: bool = True,
    ) -> None:
        self.mailboxes = mailboxes
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        # Off: a server like the many that do not offer IDLE (neither announced nor accepted).
        self.offer_idle = offer_idle
        super().__init__(address, _Session)


@dataclass
class ImapService:
    """The plain (STARTTLS) and implicit-TLS IMAP servers, each in a daemon thread."""

    mailboxes: ImapMailboxes
    host: str = "127.0.0.1"
    port: int = 0
    ssl_port: int | None = None
    tls_context: ssl.SSLContext | None = None
    offer_idle: bool = True
    _servers: list[ImapServer] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        plain = ImapServer(
            (self.host, self.port),
            self.mailboxes,
            tls_context=self.tls_context,
            implicit_tls=False,
            offer_idle=self.offer_idle,
        )
        self.port = plain.server_address[1]
        self._servers.append(plain)
        if self.ssl_port is not None and self.tls_context is not None:
            secure = ImapServer(
                (self.host, self.ssl_port),
                self.mailboxes,
                tls_context=self.tls_context,
                implicit_tls=True,
                offer_idle=self.offer_idle,
            )
            self.ssl_port = secure.server_address[1]
            self._servers.append(secure)
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
