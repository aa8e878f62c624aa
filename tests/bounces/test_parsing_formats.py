"""One synthetic notice per MTA format the parser reads by rule, each written from how that MTA
builds its notices (its templates, its source, its documentation), never from a collected
sample. Names, hosts and addresses are invented; what is kept is each format's structure and
fixed sentences."""

from __future__ import annotations

import pytest

from bounces.parsing import parse_bounce

REP = "rep@acme.example"


def returned_copy(to: str, *, subject: str = "Quick question") -> str:
    return (
        "Received: from mail.acme.example by mx.acme.example; Mon, 3 Mar 2025 10:00:00 +0000\n"
        "Message-ID: <mr.1f2e3d@acme.example>\n"
        f"From: Rep <{REP}>\n"
        f"To: {to}\n"
        f"Subject: {subject}\n"
        "\n"
        "Hello, are you free on Thursday?\n"
    )


def plain_notice(*, sender: str, subject: str, body: str, headers: str = "") -> bytes:
    return (
        f"From: {sender}\n"
        f"To: {REP}\n"
        f"Subject: {subject}\n"
        "Date: Mon, 3 Mar 2025 10:05:00 +0000\n"
        "MIME-Version: 1.0\n"
        f"{headers}"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"{body}"
    ).encode()


def postfix_said(address: str, reply: str, *, after: str = "") -> bytes:
    """Postfix's notice of one recipient whose server gave `reply` (then `after`)."""
    domain = address.partition("@")[2]
    return plain_notice(
        sender=f"MAILER-DAEMON@mx.{domain} (Mail Delivery System)",
        subject="Undelivered Mail Returned to Sender",
        body=(
            f"This is the mail system at host mx.{domain}.\n\n"
            f"<{address}>: host mx2.{domain}[192.0.2.5] said: {reply}\n"
            + (f"    {after}\n" if after else "")
        ),
    )


def only(report):
    assert report is not None, "not read as a bounce"
    assert len(report.recipients) == 1, report.recipients
    return report.recipients[0]


# -- Ipswitch IMail (SMTP32): "<what happened>: <address>" lines, then "Original message follows."


def imail(line: str) -> bytes:
    return plain_notice(
        sender="Postmaster <postmaster@mail.imail-site.example>",
        subject="Undeliverable Mail",
        headers="X-Mailer: <SMTP32 v8.22>\n",
        body=f"{line}\n\n\nOriginal message follows.\n\n"
        + returned_copy("dana@imail-site.example"),
    )


def test_imail_unknown_user():
    failed = only(parse_bounce(imail("Unknown user: dana@imail-site.example")))
    assert failed.address == "dana@imail-site.example"
    assert (failed.reason, failed.hard, failed.status) == ("user_unknown", True, None)


def test_imail_invalid_final_delivery_userid():
    failed = only(parse_bounce(imail("Invalid final delivery userid: dana@imail-site.example")))
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@imail-site.example",
        "user_unknown",
        True,
    )


def test_imail_delivery_failed_after_attempts_is_expired():
    failed = only(parse_bounce(imail("Delivery failed 4 attempts: dana@imail-site.example")))
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@imail-site.example",
        "expired",
        False,
    )


def test_imail_mailbox_exceeds_allowed_size_is_full():
    failed = only(parse_bounce(imail("User mailbox exceeds allowed size: dana@imail-site.example")))
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@imail-site.example",
        "mailbox_full",
        False,
    )


# -- AOL's own "Mail Delivery Problem": names the member by screen name only.


def test_aol_screen_name_is_an_aol_address():
    report = parse_bounce(
        plain_notice(
            sender="Mail Delivery Subsystem <MAILER-DAEMON@aol.com>",
            subject="Mail Delivery Problem",
            body=(
                "Your mail to the following recipients could not be delivered because they are "
                f"not accepting mail from {REP}:\n"
                "\tdanasmith77\n\n"
                "----- Original message follows -----\n\n" + returned_copy("danasmith77@aol.com")
            ),
        )
    )
    failed = only(report)
    assert failed.address == "danasmith77@aol.com"
    assert failed.hard is False  # the member refuses this sender: the address works


# -- Sendmail returns without a delivery-status part: the text and the transcript say it all.

SENDMAIL_TEXT = """The original message was received at Mon, 3 Mar 2025 10:00:00 +0000
from mail.acme.example [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
{recipient}
    (reason: {reason}){expanded}

   ----- Transcript of session follows -----
... while talking to mx.far-away.example.:
>>> {command}
<<< {reason}
554 5.0.0 Service unavailable

   ----- Original message follows -----

"""


def sendmail(recipient: str, reason: str, *, command: str = "DATA", expanded: str = "") -> bytes:
    return plain_notice(
        sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>",
        subject="Returned mail: see transcript for details",
        body=SENDMAIL_TEXT.format(
            recipient=recipient,
            reason=reason,
            command=command,
            expanded=f"\n    (expanded from: {expanded})" if expanded else "",
        )
        + returned_copy(expanded or recipient),
    )


def test_sendmail_text_only_over_quota():
    failed = only(parse_bounce(sendmail("<dana@far-away.example>", "552 5.2.2 Over quota")))
    assert failed.address == "dana@far-away.example"
    assert (failed.status, failed.reason, failed.hard) == ("5.2.2", "mailbox_full", False)


def test_sendmail_alias_expansion_names_the_address_that_was_mailed():
    report = parse_bounce(
        sendmail(
            "<dana.smith@backend.far-away.example>",
            "550 5.1.1 <dana.smith@backend.far-away.example>... User unknown",
            command="RCPT To:<dana.smith@backend.far-away.example>",
            expanded="<sales@far-away.example>",
        )
    )
    failed = only(report)
    assert failed.address == "sales@far-away.example"
    assert (failed.status, failed.reason, failed.hard) == ("5.1.1", "user_unknown", True)


# -- Exim: "an undisclosed address (generated from ...)" hides the alias' target.


def test_exim_undisclosed_address_is_the_one_it_was_generated_from():
    report = parse_bounce(
        exim_failure(
            "an undisclosed address",
            "(generated from info@exim-site.example)\n"
            "    SMTP error from remote mail server after RCPT TO:<x9@inner.example>:\n"
            "    550 5.1.1 <x9@inner.example>: Recipient address rejected: User unknown",
            returned_to="info@exim-site.example",
        )
    )
    failed = only(report)
    assert failed.address == "info@exim-site.example"
    assert (failed.reason, failed.hard) == ("user_unknown", True)


def exim_failure(address: str, said: str, *, returned_to: str = "") -> bytes:
    copy = (
        "\n------ This is a copy of the message, including all the headers. ------\n\n"
        + returned_copy(returned_to)
        if returned_to
        else ""
    )
    return plain_notice(
        sender="Mail Delivery System <Mailer-Daemon@mx.exim-site.example>",
        subject="Mail delivery failed: returning message to sender",
        body=(
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            f"  {address}\n    {said}\n{copy}"
        ),
    )


@pytest.mark.parametrize("said", ["Unknown user", 'unknown user: "lee"'])
def test_exim_own_unknown_user_without_a_remote_reply_is_an_unknown_address(said):
    # A router's or alias file's verdict (":fail: Unknown user"): Exim's own words about its
    # own address, no remote server and so no stage to weigh.
    failed = only(parse_bounce(exim_failure("lee@exim-site.example", said)))
    assert (failed.reason, failed.hard) == ("user_unknown", True)


def test_exim_relayed_unknown_user_after_data_stays_a_filters_verdict():
    said = "SMTP error from remote mail server after end of data:\n    550 User unknown"
    failed = only(parse_bounce(exim_failure("lee@exim-site.example", said)))
    assert (failed.reason, failed.hard) == ("filtered", False)


# -- qmail: "<address>:" then one line from the remote or local delivery, "(#5.x.y)".


def qmail(address: str, said: str) -> bytes:
    return plain_notice(
        sender="MAILER-DAEMON@mail.qmail-site.example",
        subject="failure notice",
        body=(
            "Hi. This is the qmail-send program at mail.qmail-site.example.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            f"<{address}>:\n{said}\n\n"
            "--- Below this line is a copy of the message.\n\n" + returned_copy(address)
        ),
    )


def test_qmail_not_a_valid_user_one_liner():
    failed = only(parse_bounce(qmail("dana@qmail-site.example", "That's not a valid user here.")))
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@qmail-site.example",
        "user_unknown",
        True,
    )


def test_qmail_no_mailbox_by_that_name():
    failed = only(
        parse_bounce(
            qmail("dana@qmail-site.example", "Sorry, no mailbox here by that name. (#5.1.1)")
        )
    )
    assert (failed.status, failed.reason, failed.hard) == ("5.1.1", "user_unknown", True)


def test_qmail_host_that_does_not_exist():
    failed = only(
        parse_bounce(
            qmail(
                "dana@no-such-host.example",
                "Sorry, I couldn't find any host by that name. (#4.1.2)",
            )
        )
    )
    assert failed.reason == "host_unknown"


# -- Exchange 5.5: recipients in X.400 form, the SMTP address inside "dda:SMTP=".


def test_exchange55_x400_wrapped_address():
    report = parse_bounce(
        plain_notice(
            sender="System Administrator <postmaster@corp.exchange-site.example>",
            subject="Undeliverable: Quick question",
            headers="X-Mailer: Internet Mail Service (5.5.2653.19)\n",
            body=(
                "Your message did not reach some or all of the intended recipients.\n\n"
                "      Subject:\tQuick question\n"
                "      Sent:\t3/3/25 10:00 AM\n\n"
                "The following recipient(s) could not be reached:\n\n"
                "      'c=US;a= ;p=Corp;o=Exchange;dda:SMTP=dana@exchange-site.example;' "
                "on 3/3/25 10:01 AM\n"
                "            The recipient name is not recognized\n"
                "\tThe MTS-ID of the original message is: c=US;a= ;p=Corp;l=SRV1-250303100"
                "0Z-12\n"
                "            MSEXCH:IMS:Corp:Exchange:SRV1 0 (000C05A6) Unknown Recipient\n"
            ),
        )
    )
    failed = only(report)
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@exchange-site.example",
        "user_unknown",
        True,
    )


# -- LSMTP (L-Soft): the LMail-style "Error-For:" block LISTSERV reads by itself.


def test_lsmtp_error_for_block():
    report = parse_bounce(
        plain_notice(
            sender="L-Soft list server (1.8e) <LISTSERV@lists.lsoft-site.example>",
            subject="Undelivered mail",
            headers='X-Report-Type: Nondelivery; boundary="> Error description:"\n',
            body=(
                "An error was detected while processing the enclosed message. A list of the\n"
                "affected recipients follows. This list is in a special format that allows\n"
                "software to automatically take action on incorrect addresses.\n\n"
                "--> Error description:\n"
                "Error-For:  dana@lsoft-site.example\n"
                "Error-Code: 3\n"
                "Error-Text: No such local user.\n\n"
                "Error-End:  One error reported.\n\n"
                "------------------------- Rejected message (5 lines) ---------------------\n"
                + returned_copy("dana@lsoft-site.example")
            ),
        )
    )
    failed = only(report)
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@lsoft-site.example",
        "user_unknown",
        True,
    )


# -- MailEnable: "Recipient: [SMTP:<address>]" and "Reason:" lines.


def test_mailenable_recipient_and_reason_lines():
    report = parse_bounce(
        plain_notice(
            sender="POSTMASTER@mail.mailenable-site.example",
            subject="Message Delivery Failure",
            body=(
                "MailEnable: Message could not be delivered to some recipients.\n\n"
                "The following recipient(s) could not be reached:\n\n"
                "\tRecipient: [SMTP:dana@mailenable-site.example]\n"
                "\tReason: The requested mailbox does not exist on this server.\n\n"
                "Message headers follow:\n\n" + returned_copy("dana@mailenable-site.example")
            ),
        )
    )
    failed = only(report)
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@mailenable-site.example",
        "user_unknown",
        True,
    )


# -- Yahoo's HTML-only notice: the address and the remote reply, in <br>-separated HTML.


def test_yahoo_html_only_notice():
    html = (
        "<html><body>Sorry, we were unable to deliver your message to the following address."
        "<br><br>&lt;dana@far-away.example&gt;:<br>Remote host said: 550 5.1.1 "
        "&lt;dana@far-away.example&gt;... User unknown [RCPT_TO]<br><br>"
        "--- Below this line is a copy of the message.</body></html>"
    )
    raw = (
        "From: MAILER-DAEMON@yahoo.example\n"
        f"To: {REP}\n"
        "Subject: Failure Notice\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/html; charset=utf-8\n\n" + html
    ).encode()
    failed = only(parse_bounce(raw))
    assert (failed.address, failed.status, failed.reason, failed.hard) == (
        "dana@far-away.example",
        "5.1.1",
        "user_unknown",
        True,
    )


# -- demon.net's POP mailboxes: mail left uncollected is deleted after 30 days.


def test_demon_not_collected_after_thirty_days_is_expired():
    report = parse_bounce(
        plain_notice(
            sender="Mail Delivery System <postmaster@demon.example>",
            subject="Returned mail: not collected",
            body=(
                "This message was undeliverable due to the following reason:\n\n"
                "The message to dana@dana-home.demon.example was not collected after 30 days\n"
                "and has been deleted from the mailbox.\n\n"
                "Original message follows.\n\n" + returned_copy("dana@dana-home.demon.example")
            ),
        )
    )
    failed = only(report)
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@dana-home.demon.example",
        "expired",
        False,
    )


# -- Wordings that name the address itself, from many vendors: hard in any format.


@pytest.mark.parametrize(
    "said",
    [
        "No mail box available for this user.",
        "This is not an active address.",
        "550 BAD_RECIPIENT",
        "Unknown E-Mail Address",
        "This user doesn't have a qmail-site.example account",
        "No such local user.",
    ],
)
def test_unknown_address_wordings_are_hard(said):
    failed = only(parse_bounce(qmail("dana@qmail-site.example", said)))
    assert (failed.reason, failed.hard) == ("user_unknown", True)


# -- A delivery agent's own words that it does not know the recipient, no server reply quoted.


@pytest.mark.parametrize(
    "words",
    ["User unknown!", "no such user", "Address not recognized; no such user.", "[User unknown]"],
)
def test_an_agents_own_unknown_user_words_are_an_unknown_address(words):
    """With no reply code quoted, the notice's writer is the one that looked the recipient up:
    the address does not exist (hard). A quoted reply with no stage stays a filter's verdict."""
    body = (
        "Your message could not be delivered to the following recipient:\n\n"
        f"<lee@agent-site.example>: {words}\n\n"
        "--- Original message follows ---\n" + returned_copy("lee@agent-site.example")
    )
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Delivery System <MAILER-DAEMON@agent-site.example>",
                subject="Undeliverable mail",
                body=body,
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "lee@agent-site.example",
        "user_unknown",
        True,
    )


def test_a_quoted_reply_without_its_stage_stays_a_filters_verdict():
    body = (
        "Your message could not be delivered to the following recipient:\n\n"
        "<lee@agent-site.example>: 550 User unknown\n\n"
        "--- Original message follows ---\n" + returned_copy("lee@agent-site.example")
    )
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Delivery System <MAILER-DAEMON@agent-site.example>",
                subject="Undeliverable mail",
                body=body,
            )
        )
    )
    assert (failed.reason, failed.hard) == ("filtered", False)


def test_qmail_host_lookup_without_a_code_is_an_unknown_host():
    failed = only(
        parse_bounce(
            qmail("dana@no-such-host.example", "Sorry, I couldn't find any host by that name.")
        )
    )
    assert (failed.reason, failed.hard) == ("host_unknown", True)


# -- Postfix local(8): its own one-line verdicts, no server reply to quote.


def postfix_local(address: str, said: str) -> bytes:
    return plain_notice(
        sender="MAILER-DAEMON@mx.postfix-site.example (Mail Delivery System)",
        subject="Undelivered Mail Returned to Sender",
        body=(
            "This is the mail system at host mx.postfix-site.example.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            "                   The mail system\n\n"
            f"<{address}>: {said}\n\n" + returned_copy(address)
        ),
    )


def test_postfix_local_unknown_user_is_an_unknown_address():
    failed = only(parse_bounce(postfix_local("lou@postfix-site.example", 'unknown user: "lou"')))
    assert (failed.reason, failed.hard) == ("user_unknown", True)


@pytest.mark.parametrize("error", ["File too large", "Disk quota exceeded"])
def test_postfix_local_mailbox_at_its_size_limit_is_full(error):
    said = f"cannot update mailbox /var/mail/max for user max. error\n    writing message: {error}"
    failed = only(parse_bounce(postfix_local("max@postfix-site.example", said)))
    assert (failed.reason, failed.hard) == ("mailbox_full", False)


# -- A notice that names the recipient only in its opening sentence.


def test_the_recipient_named_in_an_unable_to_deliver_sentence():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@isp-site.example",
                subject="Undeliverable mail",
                body=(
                    "Sorry, unable to deliver your message to bo@isp-site.example for the "
                    "following reason:\n\n552 Quota violation for bo@isp-site.example\n\n"
                    "A copy of the original message below this line:\n\n"
                    + returned_copy("bo@isp-site.example")
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "bo@isp-site.example",
        "mailbox_full",
        False,
    )


def test_an_invalid_receiver_address_is_an_unknown_address():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Postmaster <postmaster@online-site.example>",
                subject="Undeliverable Message",
                body=(
                    "Your message could not be delivered as addressed.\n\n"
                    "--- Failure Reason ---\n"
                    "Invalid receiver address: abc123@online-site.example\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "abc123@online-site.example",
        "user_unknown",
        True,
    )


# -- RFC 6533: the DSN of a message sent with SMTPUTF8 (message/global-delivery-status).


@pytest.mark.parametrize("written", ["josé@utf8-site.example", "jos\\x{E9}@utf8-site.example"])
def test_an_smtputf8_dsn_names_its_non_ascii_recipient(written):
    raw = (
        "From: MAILER-DAEMON@mx.utf8-site.example (Mail Delivery System)\n"
        f"To: {REP}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=global-delivery-status; boundary="b"\n'
        "\n--b\nContent-Type: text/plain; charset=utf-8\n\n"
        "Your message could not be delivered to one or more recipients.\n"
        "\n--b\nContent-Type: message/global-delivery-status\n\n"
        "Reporting-MTA: dns; mx.utf8-site.example\n\n"
        f"Final-Recipient: utf-8; {written}\n"
        "Action: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 Recipient address rejected: User unknown\n"
        "\n--b\nContent-Type: message/global-headers\n\n"
        "Message-ID: <mr.1f2e3d@acme.example>\n"
        f"From: Rep <{REP}>\nSubject: Quick question\n"
        "\n--b--\n"
    ).encode()
    report = parse_bounce(raw)
    failed = only(report)
    assert (failed.address, failed.status, failed.hard) == ("josé@utf8-site.example", "5.1.1", True)
    assert report.original_message_id == "<mr.1f2e3d@acme.example>"


# -- Exchange Online's NDR read as text (its summary line, "… wasn't found at …").


def test_exchange_online_ndr_as_text_names_the_recipient_it_could_not_find():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Microsoft Outlook <MicrosoftExchange329e71ec@corp-site.example>",
                subject="Undeliverable: Quick question",
                body=(
                    "Your message to ivan@corp-site.example couldn't be delivered.\n\n"
                    "ivan wasn't found at corp-site.example.\n\n"
                    "Action Required\nRecipient\nUnknown To address\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "ivan@corp-site.example",
        "user_unknown",
        True,
    )


# -- Gmail's NDR read as text: "Your message wasn't delivered to a@b because …".


def gmail_text(body: str) -> bytes:
    return plain_notice(
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        subject="Delivery Status Notification (Failure)",
        body=body,
    )


def test_gmail_ndr_as_text_address_not_found_with_the_servers_reply():
    failed = only(
        parse_bounce(
            gmail_text(
                "Address not found\n\nYour message wasn't delivered to pia@gone-site.example "
                "because the address couldn't be found, or is unable to receive mail.\n\n"
                "The response from the remote server was:\n"
                "550 5.1.1 The email account that you tried to reach does not exist.\n"
            )
        )
    )
    assert (failed.address, failed.status, failed.reason, failed.hard) == (
        "pia@gone-site.example",
        "5.1.1",
        "user_unknown",
        True,
    )


def test_gmail_ndr_as_text_domain_not_found():
    failed = only(
        parse_bounce(
            gmail_text(
                "Address not found\n\nYour message wasn't delivered to rob@nodomain.example "
                "because the domain nodomain.example couldn't be found. Check for typos or "
                "unnecessary spaces and try again.\n"
            )
        )
    )
    assert (failed.reason, failed.hard) == ("host_unknown", True)


def test_gmail_ndr_as_text_message_blocked():
    failed = only(
        parse_bounce(
            gmail_text(
                "Message blocked\n\nYour message to quin@strict-site.example has been blocked. "
                "See technical details below for more information.\n\n"
                "The response from the remote server was:\n"
                "552 5.7.0 This message was blocked because its content presents a potential "
                "security issue.\n"
            )
        )
    )
    assert (failed.address, failed.status, failed.hard) == (
        "quin@strict-site.example",
        "5.7.0",
        False,
    )


# -- Exchange's NDR sentences (Microsoft's NDR reference), under "Delivery has failed to …".


@pytest.mark.parametrize(
    ("sentence", "reason", "hard"),
    [
        (
            "The e-mail address you entered couldn't be found. Please check the recipient's "
            "e-mail address and try to resend the message.",
            "user_unknown",
            True,
        ),
        (
            "The domain name in the email address is incorrect. Check that the domain name is "
            "spelled correctly.",
            "host_unknown",
            True,
        ),
        (
            "Your message can't be delivered because delivery to this address is restricted.",
            "rejected",
            False,
        ),
    ],
)
def test_exchange_ndr_sentences(sentence, reason, hard):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Microsoft Outlook <postmaster@corp-site.example>",
                subject="Undeliverable: Quick question",
                body=(
                    "Delivery has failed to these recipients or groups:\n\n"
                    f"ann@corp-site.example\n{sentence}\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("ann@corp-site.example", reason, hard)


# -- PMDF and the Sun / Oracle Messaging Server after it: "Recipient address:" blocks.


def messaging_server_notice(block: str) -> bytes:
    return plain_notice(
        sender="Internet Mail Delivery <postmaster@ms-site.example>",
        subject="Delivery Notification: Delivery has failed",
        body=(
            "This report relates to a message you sent with the following header fields:\n\n"
            "  Message-id: <mr.1f2e3d@acme.example>\n"
            f"  From: Rep <{REP}>\n"
            "  To: kai@ms-site.example\n"
            "  Subject: Quick question\n\n"
            "Your message cannot be delivered to the following recipients:\n\n"
            f"{block}\n"
        ),
    )


def test_messaging_server_recipient_address_block_with_the_remote_reply():
    failed = only(
        parse_bounce(
            messaging_server_notice(
                "  Recipient address: kai@ms-site.example\n"
                "  Reason: Remote SMTP server has rejected address\n"
                "  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: kai@ms-site.example\n"
                "  Remote system: dns;mx.ms-site.example (mx.ms-site.example ESMTP)\n"
            )
        )
    )
    assert (failed.address, failed.status, failed.reason, failed.hard) == (
        "kai@ms-site.example",
        "5.1.1",
        "user_unknown",
        True,
    )
    assert failed.diagnostic.startswith("Reason: Remote SMTP server has rejected address")


def test_messaging_server_own_verdicts_on_an_address():
    unknown_domain = only(
        parse_bounce(
            messaging_server_notice(
                "  Recipient address: kai@ms-site.example\n"
                "  Reason: Illegal host/domain name found\n"
            )
        )
    )
    assert (unknown_domain.reason, unknown_domain.hard, unknown_domain.status) == (
        "host_unknown",
        True,
        None,
    )
    alias = only(
        parse_bounce(
            messaging_server_notice(
                "  Recipient address: kai@ms-site.example\n"
                "  Reason: unknown or illegal alias: kai@ms-site.example\n"
            )
        )
    )
    assert (alias.reason, alias.hard) == ("user_unknown", True)


# -- Netscape Messaging Server: "This Message was undeliverable due to the following reason:"
# then the reason in sentences and the recipients as "<a@b>" (or "SMTP <a@b>") lines.


def netscape_notice(reason: str, recipients: str) -> bytes:
    return plain_notice(
        sender="Mail Administrator <Postmaster@ns-site.example>",
        subject="Mail System Error - Returned Mail",
        body=(
            "This Message was undeliverable due to the following reason:\n\n"
            f"{reason}\n\n{recipients}\n\n"
            "Please reply to Postmaster@ns-site.example\nif you feel this message to be in error.\n"
        ),
    )


def test_netscape_unknown_destination_addresses_are_hard():
    failed = only(
        parse_bounce(
            netscape_notice(
                "The following destination addresses were unknown (please check\n"
                "the addresses and re-mail the message):",
                "SMTP <lou@ns-site.example>",
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "lou@ns-site.example",
        "user_unknown",
        True,
    )


def test_netscape_queue_period_run_out_is_expired():
    failed = only(
        parse_bounce(
            netscape_notice(
                "Your message was not delivered because the destination computer was\n"
                "not reachable within the allowed queue period.\n\n"
                "Your message was not delivered within 5 days:\n"
                "Host mx.ns-site.example is not responding.\n\n"
                "The following recipients did not receive this message:",
                "<lou@ns-site.example>",
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("lou@ns-site.example", "expired", False)


# -- A DSN from an X.400 gateway: the SMTP address inside the O/R address of Final-Recipient.


def test_x400_final_recipient_names_the_smtp_address_inside_it():
    raw = (
        "From: MAILER-DAEMON@gw-site.example\n"
        f"To: {REP}\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; gw-site.example\n\n"
        "Final-Recipient: X400; c=US;a= ;p=Org;o=Site;dda:SMTP=jo@gw-site.example;\n"
        "Action: failed\nStatus: 5.1.1\n\n--b--\n"
    ).encode()
    failed = only(parse_bounce(raw))
    assert (failed.address, failed.status, failed.hard) == ("jo@gw-site.example", "5.1.1", True)


# -- RFC 7372's authentication codes: x.7.23 is SPF validation failed, whatever else is said.


def test_rfc7372_spf_code_and_sender_policy_framework_wording_are_authentication():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@mx.spf-site.example",
                subject="Undelivered Mail Returned to Sender",
                body=(
                    "This is the mail system at host mx.spf-site.example.\n\n"
                    "<mo@spf-site.example>: host mx2.spf-site.example[192.0.2.9] said: 550 5.7.23\n"
                    "    The message was rejected because of Sender Policy Framework violation\n"
                    "    (in reply to end of DATA command)\n"
                ),
            )
        )
    )
    assert (failed.status, failed.reason, failed.hard) == ("5.7.23", "authentication_failed", False)


# -- A notice from a gateway whose name says nothing, sent with the null sender RFC 5321 gives
# every delivery notice: the returned message's To is who failed.


def gateway_notice(return_path: str) -> bytes:
    return (
        f"Return-Path: {return_path}\n"
        "From: Gateway <gw@nr-site.example>\n"
        f"To: {REP}\n"
        "Subject: Undeliverable: Quick question\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b\nContent-Type: message/rfc822\n\n"
        f"{returned_copy('ira@nr-site.example')}\n--b--\n"
    ).encode()


def test_a_null_sender_notice_naming_nobody_is_read_from_the_returned_message():
    assert only(parse_bounce(gateway_notice("<>"))).address == "ira@nr-site.example"
    # The same words from someone's own address are not a notice: nothing says a mail system
    # wrote them.
    assert parse_bounce(gateway_notice("<gw@nr-site.example>")) is None


def test_a_mailbox_unknown_line_is_an_unknown_address():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Server <postmaster@mc-site.example>",
                subject="Delivery failure",
                body=(
                    "This message is being returned to you because it could not be delivered.\n\n"
                    "  pat@mc-site.example : Mailbox unknown\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "pat@mc-site.example",
        "user_unknown",
        True,
    )


# -- Servers' sentences for an address they do not know: qmail's recipient-check patches,
# vpopmail, Exchange's older wording, Italian and Spanish servers.


@pytest.mark.parametrize(
    "line",
    [
        "The following recipients' addresses are not found: dana@ph-site.example",
        "Unknown local part dana in <dana@ph-site.example>",
        "dana@ph-site.example: 553 sorry, your envelope recipient is in my badrcptto list",
        "dana@ph-site.example: vdeliver: invalid or unknown virtual user",
        "dana@ph-site.example: The user's email name is not found.",
        "dana@ph-site.example: 550 nessun utente simile in questo indirizzo",
        "dana@ph-site.example: 550 no existe ese usuario",
        "dana@ph-site.example: 550 Not our Customer",
    ],
)
def test_sentences_that_a_name_is_unknown_are_an_unknown_address(line):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@ph-site.example",
                subject="Returned mail: see transcript for details",
                body=f"Your message could not be delivered.\n\n{line}\n",
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "dana@ph-site.example",
        "user_unknown",
        True,
    )


# -- CommuniGate Pro: "Failed to deliver to '<a@b>'", then which module reports what.


@pytest.mark.parametrize(
    ("module_said", "reason", "hard"),
    [
        (
            "SMTP module(domain cg-site.example) reports:\n host mx.cg-site.example says:\n"
            " 550 5.1.1 User unknown",
            "user_unknown",
            True,
        ),
        (
            "LOCAL module(account ona) reports:\n account is full (quota exceeded)",
            "mailbox_full",
            False,
        ),
    ],
)
def test_communigate_failed_to_deliver_and_its_modules_report(module_said, reason, hard):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@cg-site.example",
                subject="Undeliverable mail: Failed to deliver to '<ona@cg-site.example>'",
                body=f"Failed to deliver to '<ona@cg-site.example>'\n{module_said}\n",
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("ona@cg-site.example", reason, hard)


# -- XMail: its error record, "[<00>] XMail bounce: Rcpt=[a@b];Error=[reply]".


def test_xmail_bounce_record():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="XMail bounce <xmail@xm-site.example>",
                subject="Undelivered message",
                body=(
                    "[<00>] XMail bounce: Rcpt=[uma@xm-site.example];"
                    "Error=[550 5.1.1 <uma@xm-site.example>... User unknown]\n\n"
                    + returned_copy("uma@xm-site.example")
                ),
            )
        )
    )
    assert (failed.address, failed.status, failed.hard) == ("uma@xm-site.example", "5.1.1", True)


def test_a_recipient_label_then_an_error_line():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="postmaster@lb-site.example",
                subject="Undeliverable message",
                body=(
                    "Message delivery failed.\n\nRecipient: vic@lb-site.example\n"
                    "Error: 550 5.1.1 Mailbox not available\n"
                ),
            )
        )
    )
    assert (failed.address, failed.status, failed.hard) == ("vic@lb-site.example", "5.1.1", True)


@pytest.mark.parametrize(
    "said",
    [
        "El buzón del destinatario está lleno.",
        "La boîte aux lettres du destinataire est pleine.",
        "A caixa postal do destinatário está cheia.",
        "La casella di posta del destinatario è piena.",
    ],
)
def test_a_recipients_mailbox_full_in_romance_languages(said):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Delivery System <MAILER-DAEMON@rl-site.example>",
                subject="Undelivered Mail Returned to Sender",
                body=f"Delivery failed:\n\n  wes@rl-site.example\n    {said}\n",
            )
        )
    )
    assert (failed.reason, failed.hard) == ("mailbox_full", False)


# -- The structural fallback: a notice in no known layout, from a mail system (its name, or
# the null sender), naming the address in a sentence that says delivery to it failed.


def fallback_notice(body: str) -> bytes:
    return plain_notice(
        sender="MAILER-DAEMON@fb-site.example", subject="Undeliverable mail", body=body
    )


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Your message to <yan@fb-site.example> was rejected by the remote server.", "unknown"),
        ("Delivery to yan@fb-site.example has failed: mailbox full", "mailbox_full"),
        ("The address <yan@fb-site.example> does not exist.", "user_unknown"),
        ("Sorry, the mailbox yan@fb-site.example is full.", "mailbox_full"),
        ("Mail could not be delivered to 'yan@fb-site.example'.", "unknown"),
        ("Message for yan@fb-site.example bounced: 550 5.1.1 user unknown", "user_unknown"),
    ],
)
def test_a_sentence_naming_the_address_it_failed_to_reach(sentence, reason):
    failed = only(
        parse_bounce(
            fallback_notice(
                f"{sentence}\n\nPlease reply to postmaster@fb-site.example with questions.\n"
            )
        )
    )
    assert (failed.address, failed.reason) == ("yan@fb-site.example", reason)


def test_the_fallback_takes_the_address_the_failure_is_said_of():
    failed = only(
        parse_bounce(
            fallback_notice(
                "The address yan@fb-site.example does not exist; write to zoe@fb-site.example\n"
            )
        )
    )
    assert failed.address == "yan@fb-site.example"


def test_the_fallback_never_takes_the_sender_of_the_returned_message():
    raw = plain_notice(
        sender="MAILER-DAEMON@fb-site.example",
        subject="Undeliverable mail",
        body=(
            f"The message {REP} sent could not be delivered.\n\n"
            "--- Below this line is a copy of the message.\n\n"
            + returned_copy("yan@fb-site.example, zoe@fb-site.example")
        ),
    ).replace(f"To: {REP}".encode(), b"To: sales@acme.example", 1)
    assert parse_bounce(raw) is None


def test_the_fallback_reads_no_postmasters_reply_auto_reply_or_quota_warning():
    reply = plain_notice(
        sender="Postmaster <postmaster@fb-site.example>",
        subject="Re: question about your mail server",
        body="Hello,\n\nThe address yan@fb-site.example does not exist any more, which is why\n"
        "your mail was returned.\n",
    )
    vacation = plain_notice(
        sender="Yan <yan@fb-site.example>",
        subject="Automatic reply: Quick question",
        headers="Return-Path: <>\nAuto-Submitted: auto-replied\n",
        body="I am away; mail is not delivered to me until Monday. Write to zoe@fb-site.example.\n",
    )
    quota_warning = plain_notice(
        sender="Postmaster <postmaster@fb-site.example>",
        subject="Mailbox quota warning",
        body="Your mailbox sales@fb-site.example is full to 95% of its quota; mail sent to it may "
        "be rejected soon.\n",
    )
    assert parse_bounce(reply) is None
    assert parse_bounce(vacation) is None
    assert parse_bounce(quota_warning) is None


def test_the_returned_messages_to_list_is_not_the_failed_recipients():
    def notice(said: str) -> bytes:
        return plain_notice(
            sender="MAILER-DAEMON@tl-site.example",
            subject="Undeliverable mail",
            body=(
                f"{said}\n\n--- Below this line is a copy of the message.\n\n"
                + returned_copy("amy@tl-site.example, bo@tl-site.example")
            ),
        )

    # Which of the two failed, nothing says.
    assert parse_bounce(notice("Your message could not be delivered.")) is None
    named = only(
        parse_bounce(notice("<bo@tl-site.example>:\nSorry, no mailbox here by that name."))
    )
    assert named.address == "bo@tl-site.example"


# -- Trend Micro InterScan Messaging Security Suite: its notice of a recipient the next server
# refused names it in one fixed sentence.


def test_interscan_unable_to_deliver_to_a_recipient_is_an_unknown_address():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Administrator <postmaster@is-site.example>",
                subject="Mail could not be delivered",
                body=(
                    "****** Message from InterScan Messaging Security Suite ******\n\n"
                    "The following mail could not be delivered.\n"
                    "Reason:  Unable to deliver message to <fay@is-site.example> (and other "
                    "recipients in the same domain).\n\n"
                    "************************     End of message     **********************\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == (
        "fay@is-site.example",
        "user_unknown",
        True,
    )


@pytest.mark.parametrize(
    ("said", "reason", "hard"),
    [
        ("all host address lookups failed permanently", "host_unknown", True),
        ("an MX or SRV record indicated no SMTP service", "no_mail_accepted", True),
        ("delivery to file forbidden", "system_error", False),
        ("local delivery failed", "system_error", False),
        ('Too many "Received" headers - suspected mail loop', "content_rejected", False),
        ("error: quota exceed", "mailbox_full", False),
        ("Unroutable address", "host_unknown", True),
        # A hosting panel's template for Exim.
        (
            "The mail server could not deliver mail to gus@exim-site.example.  The account or "
            "domain may not exist, they may be blacklisted, or missing the proper dns entries.",
            "host_unknown",
            True,
        ),
    ],
)
def test_exim_own_sentences(said, reason, hard):
    failed = only(parse_bounce(exim_failure("gus@exim-site.example", said)))
    assert (failed.reason, failed.hard) == (reason, hard)


# -- Lotus Notes / Domino: "Your message … was not delivered to: … because: <what happened>".


@pytest.mark.parametrize(
    ("because", "reason", "hard"),
    [
        ("User hal (hal@dom-site.example) not listed in Domino Directory", "user_unknown", True),
        (
            "ユーザ hal (hal@dom-site.example) はディレクトリのリストにありません",
            "user_unknown",
            True,
        ),
        ("Several matches found in Domino Directory", "system_error", False),
        ("Message has exceeded maximum hop count", "network_error", False),
        ("Cannot route mail to user (hal@dom-site.example)", "filtered", False),
    ],
)
def test_domino_because_sentences(because, reason, hard):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Router <postmaster@dom-site.example>",
                subject="DELIVERY FAILURE: " + because.split(" (")[0],
                body=(
                    "Your message\n\n  Subject: Quick question\n\nwas not delivered to:\n\n"
                    f"  hal@dom-site.example\n\nbecause:\n\n  {because}\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("hal@dom-site.example", reason, hard)


def test_qmail_giving_up_on_a_host_is_not_a_retry_period_run_out():
    # qmail-remote closes every permanent refusal with "Giving up on <IP>."; what the remote
    # server said is the reason.
    failed = only(
        parse_bounce(
            qmail(
                "ivy@qmail-site.example",
                "192.0.2.8 does not like recipient.\n"
                "Remote host said: 550 5.1.1 <ivy@qmail-site.example>: forwarding failed\n"
                "Giving up on 192.0.2.8.",
            )
        )
    )
    assert (failed.status, failed.reason, failed.hard) == ("5.1.1", "user_unknown", True)


def test_postfix_alias_expansion_names_the_address_that_was_mailed():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@mx.pf-site.example (Mail Delivery System)",
                subject="Undelivered Mail Returned to Sender",
                body=(
                    "This is the mail system at host mx.pf-site.example.\n\n"
                    "<jo.old@inner.pf-site.example> (expanded from <jo@pf-site.example>): host\n"
                    "    inner.pf-site.example[192.0.2.3] said: 550 5.1.1\n"
                    "    <jo.old@inner.pf-site.example>: User unknown\n"
                    "    (in reply to RCPT TO command)\n"
                ),
            )
        )
    )
    assert (failed.address, failed.status, failed.hard) == ("jo@pf-site.example", "5.1.1", True)
    assert failed.diagnostic.startswith("host inner.pf-site.example")


@pytest.mark.parametrize(
    "return_path",
    [
        "bounce+7f3a@acme.example",
        "prvs=1234abcd=rep@acme.example",
        "SRS0=HHH=TT=acme.example=rep@fwd.example",
    ],
)
def test_a_senders_own_return_path_is_never_the_failed_recipient(return_path):
    notice = qmail("kai@qmail-site.example", "Sorry, no mailbox here by that name. (#5.1.1)")
    # The notice lists the return path it was sent to first, as a bounce of a bounce would;
    # it reached this mailbox through it.
    notice = notice.replace(
        b"<kai@qmail-site.example>:\n",
        (
            f"<{return_path}>:\nThis address no longer accepts mail.\n\n<kai@qmail-site.example>:\n"
        ).encode(),
        1,
    )
    assert only(parse_bounce(notice)).address == "kai@qmail-site.example"


def test_a_contact_line_naming_the_postmaster_is_not_a_failed_recipient():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Administrator <Postmaster@ns-site.example>",
                subject="Mail System Error - Returned Mail",
                body=(
                    "This Message was undeliverable due to the following reason:\n\n"
                    "The user(s) account is temporarily over quota.\n\n<lou@ns-site.example>\n\n"
                    "Questions? Write to:\npostmaster@ns-site.example\n"
                ),
            )
        )
    )
    assert (failed.address, failed.reason) == ("lou@ns-site.example", "mailbox_full")


# -- SMTP transcripts: a recipient accepted at RCPT failed at the first refusal after it.


def test_postfix_smtpd_error_report_in_and_out_lines():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="MAILER-DAEMON@mx.pf-site.example (Mail Delivery System)",
                subject="Postfix SMTP server: errors from relay.pf-site.example[192.0.2.4]",
                body=(
                    "Transcript of session follows.\n\n"
                    " Out: 220 mx.pf-site.example ESMTP\n In:  EHLO relay.pf-site.example\n"
                    " Out: 250 mx.pf-site.example\n In:  MAIL FROM:<rep@acme.example>\n"
                    " Out: 250 2.1.0 Ok\n In:  RCPT TO:<max@pf-site.example>\n"
                    " Out: 250 2.1.5 Ok\n In:  DATA\n Out: 354 End data with <CR><LF>.<CR><LF>\n"
                    " Out: 451 4.3.0 Error: queue file write error\n In:  QUIT\n"
                    " Out: 221 2.0.0 Bye\n\nFor other details, see the local mail logfile\n"
                ),
            )
        )
    )
    assert (failed.address, failed.status, failed.reason) == (
        "max@pf-site.example",
        "4.3.0",
        "system_error",
    )


def test_sendmail_transcript_refused_after_data():
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.sm-site.example>",
                subject="Returned mail: see transcript for details",
                body=(
                    "   ----- Transcript of session follows -----\n"
                    "... while talking to mx.sm-site.example.:\n"
                    ">>> RCPT To:<ned@sm-site.example>\n<<< 250 2.1.5 Ok\n>>> DATA\n"
                    "<<< 354 Go ahead\n>>> .\n<<< 554 5.7.1 Message rejected as spam\n"
                ),
            )
        )
    )
    assert (failed.address, failed.status, failed.reason) == (
        "ned@sm-site.example",
        "5.7.1",
        "spam",
    )


@pytest.mark.parametrize(
    ("reply", "reason", "hard"),
    [
        ("550 mailbox unavailable or access denied", "mailbox_disabled", False),
        ("550 Recipient rejected: temporarily inactive", "mailbox_disabled", False),
        ("550 Boîte du destinataire archivée", "mailbox_disabled", False),
        (
            "550 address pia@mv-site.example has been replaced by pia.new@mv-site.example",
            "mailbox_moved",
            True,
        ),
    ],
)
def test_a_disabled_or_moved_mailbox_in_the_servers_words(reply, reason, hard):
    failed = only(
        parse_bounce(
            postfix_said("pia@mv-site.example", reply, after="(in reply to RCPT TO command)")
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("pia@mv-site.example", reason, hard)


@pytest.mark.parametrize(
    "reply",
    [
        "550 Administrative prohibition",
        "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)",
        "550 BATV failed to verify",
        "550 null sender is not allowed",
        "553 fully qualified email address required",
    ],
)
def test_a_refused_envelope_sender_is_a_sender_refusal(reply):
    failed = only(parse_bounce(postfix_said("rae@sr-site.example", reply)))
    assert (failed.reason, failed.hard) == ("rejected", False)


# -- Mail.ru's older notices (an Exim): "Message was not accepted -- invalid mailbox. Local
# mailbox a@b is unavailable: <why>", under a Russian and English opening.


@pytest.mark.parametrize(
    ("why", "reason", "hard"),
    [("user not found", "user_unknown", True), ("account is disabled", "mailbox_disabled", False)],
)
def test_old_mail_ru_invalid_mailbox(why, reason, hard):
    failed = only(
        parse_bounce(
            plain_notice(
                sender="Mail Delivery System <MAILER-DAEMON@mx.ru-site.example>",
                subject="Mail failure.",
                body=(
                    "Это письмо создано автоматически сервером, отвечать на него не нужно.\n"
                    "This message was created automatically by mail delivery software.\n\n"
                    "Message was not accepted -- invalid mailbox.  Local mailbox "
                    f"oleg@ru-site.example is unavailable: {why}\n\n"
                    + returned_copy("oleg@ru-site.example")
                ),
            )
        )
    )
    assert (failed.address, failed.reason, failed.hard) == ("oleg@ru-site.example", reason, hard)


def test_a_transcripts_refusal_of_the_next_recipient_is_not_the_accepted_ones():
    report = parse_bounce(
        plain_notice(
            sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.sm-site.example>",
            subject="Returned mail: see transcript for details",
            body=(
                "   ----- Transcript of session follows -----\n"
                ">>> RCPT To:<ok@sm-site.example>\n<<< 250 2.1.5 Ok\n"
                ">>> RCPT To:<gone@sm-site.example>\n<<< 550 5.1.1 User unknown\n"
            ),
        )
    )
    assert only(report).address == "gone@sm-site.example"
    assert only(report).status == "5.1.1"


def test_every_recipient_accepted_before_data_shares_its_refusal():
    report = parse_bounce(
        plain_notice(
            sender="MAILER-DAEMON@mx.pf-site.example (Mail Delivery System)",
            subject="Postfix SMTP server: errors from relay.pf-site.example[192.0.2.4]",
            body=(
                "Transcript of session follows.\n\n"
                " In:  RCPT TO:<max@pf-site.example>\n Out: 250 2.1.5 Ok\n"
                " In:  RCPT TO:<mia@pf-site.example>\n Out: 250 2.1.5 Ok\n"
                " In:  DATA\n Out: 354 End data with <CR><LF>.<CR><LF>\n"
                " Out: 451 4.3.0 Error: queue file write error\n"
            ),
        )
    )
    assert {(failed.address, failed.status) for failed in report.recipients} == {
        ("max@pf-site.example", "4.3.0"),
        ("mia@pf-site.example", "4.3.0"),
    }


@pytest.mark.parametrize(
    "body",
    [
        "The following message could not be delivered:\n\n  From: Rep <rep@acme.example>\n"
        "  To: Yan Ho <yan@fb-site.example>\n  Subject: Quick question\n\n"
        "Reason: 550 5.1.1 user unknown\n",
        "Delivery failed for these recipients:\n\n   Yan Ho <yan@fb-site.example>\n",
        "Your message was not delivered.\n\nRecipient(s): yan@fb-site.example\n"
        "Error: mailbox full\n",
        "Your message to: yan@fb-site.example\nwas not delivered.\n\nReason: content rejected\n",
    ],
)
def test_the_fallback_reads_a_mail_systems_list_under_its_failure_heading(body):
    assert only(parse_bounce(fallback_notice(body))).address == "yan@fb-site.example"


def test_the_fallback_reads_no_list_or_quote_in_a_persons_message():
    said = (
        "Your message could not be delivered to me:\n\n  I'm on holiday; write to "
        "zoe@fb-site.example.\n\n> Delivery has failed to these recipients or groups:\n"
        "> kim@fb-site.example\n> 550 5.1.1 User unknown\n"
    )
    person = plain_notice(sender="Yan <yan@fb-site.example>", subject="Undeliverable", body=said)
    assert parse_bounce(person) is None


@pytest.mark.parametrize("plain_text", ["", "This message is in HTML. Please use an HTML viewer."])
def test_an_html_notice_whose_text_alternative_names_nobody(plain_text):
    raw = (
        "From: MAILER-DAEMON@ht-site.example\nTo: rep@acme.example\n"
        "Subject: Undeliverable: Quick question\nMIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="b"\n\n'
        f"--b\nContent-Type: text/plain; charset=utf-8\n\n{plain_text}\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><body><p>Your message to <b>ida@ht-site.example</b> couldn't be delivered.</p>"
        "<p>ida wasn't found at ht-site.example.</p></body></html>\n--b--\n"
    ).encode()
    failed = only(parse_bounce(raw))
    assert (failed.address, failed.reason) == ("ida@ht-site.example", "user_unknown")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("550 5.7.1 the recipient is not accepting mail with attachments", "policy"),
        (
            "550 This message has been rejected because it has a potentially executable attachment",
            "policy",
        ),
        ("550 the message was rejected by organization policy", "policy"),
        ("554 message mime complexity exceeds the policy maximum", "content_rejected"),
        ("552 executable files are not allowed in compressed files", "content_rejected"),
    ],
)
def test_a_refused_attachment_or_content_is_never_a_bad_address(reply, reason):
    failed = only(
        parse_bounce(
            postfix_said("ola@at-site.example", reply, after="(in reply to end of DATA command)")
        )
    )
    assert (failed.reason, failed.hard) == (reason, False)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        # The sending server or the sender's domain unknown to the receiving server.
        ("550 Client host unknown", "blocked"),
        ("554 5.7.1 <mx.acme.example>: Helo command rejected: Host not found", "blocked"),
        ("550 From: header domain does not exist", "rejected"),
        ("550 Message rejected: the From domain has no MX record", "rejected"),
        ("550 Unknown sender", "rejected"),
        ("550 No MX for domain of sender", "rejected"),
        ("550 Cannot resolve your domain", "rejected"),
        ("554 IP address not found in DNS", "no_reverse_dns"),
        ("550 Sender mailbox does not exist", "rejected"),
        ("550 MAIL FROM address invalid", "rejected"),
        ("550 relay host unknown", "network_error"),
        ("550 5.7.1 No MX record for your domain", "rejected"),
        ("550 Unrouteable sender address", "rejected"),
        ("550 Service unavailable; Client host [192.0.2.9] blocked; host not found", "blocked"),
        # A blocklist beside words about the mailbox.
        ("550 Requested action not taken: mailbox unavailable (your IP is blacklisted)", "blocked"),
        ("550 Invalid recipient: your IP is listed at spamcop", "blocked"),
    ],
)
def test_the_senders_side_unknown_or_listed_is_never_a_bad_address(reply, reason):
    failed = only(parse_bounce(postfix_said("pat@sd-site.example", reply)))
    assert (failed.reason, failed.hard) == (reason, False)


@pytest.mark.parametrize(
    ("reply", "hard"),
    [
        ("550 <pat@nx-site.example> does not exist", True),
        ("550 The list you posted to does not exist", True),
        ("550 DKIM key does not exist", False),
        ("550 The route does not exist", False),
        ("550 5.7.1 Your IP does not match any allowed sender", False),
        # Moved: the recipient, not a message moved to quarantine.
        ("550 User has moved to pat.new@nx-site.example", True),
        ("550 Message moved to quarantine", False),
        # A status code before a blanked address is not a domain name that does not exist.
        ("550 5.1.1 <pat@nx-site.example> does not exist", True),
    ],
)
def test_does_not_exist_is_about_the_address_only_when_it_names_no_other_thing(reply, hard):
    failed = only(parse_bounce(postfix_said("pat@nx-site.example", reply)))
    assert failed.hard is hard
    if hard:
        assert failed.reason in ("user_unknown", "mailbox_moved")
