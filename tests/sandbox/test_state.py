"""The state file keeps connected mailboxes across a restart (``make run``)."""

from __future__ import annotations

from sandbox.state import Store


def test_state_file_round_trip(tmp_path):
    path = str(tmp_path / "sandbox.json")
    store = Store(state_file=path)
    mailbox = store.ensure_mailbox("microsoft", "Demo@Contoso.test", display_name="Demo Rep")
    grant = store.issue_grant("microsoft", mailbox.email, "client", ["Mail.Read", "offline_access"])
    access = store.issue_access_token(grant)
    message = store.add_message(
        mailbox, b"Message-ID: <a@b>\r\nSubject: hi\r\n\r\nx\r\n", folder="inbox"
    )
    store.expire_delta(mailbox, 400)
    store.save()

    restored = Store(state_file=path)
    again = restored.mailbox("microsoft", "demo@contoso.test")
    assert again.display_name == "Demo Rep" and again.seq == mailbox.seq
    assert again.messages[message.id].message_id == "<a@b>"
    assert again.by_message_id["<a@b>"] == message.id
    assert again.delta_epoch == mailbox.delta_epoch and again.delta_expired_status == 400
    assert restored.access_tokens[access.token].email == "demo@contoso.test"
    assert restored.grant_for_refresh_token(grant.refresh_token) == (
        restored.grants[grant.id],
        "",
    )
