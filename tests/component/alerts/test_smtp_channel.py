from __future__ import annotations

import asyncio

import pytest

from services.alerts.channels.base import PermanentDeliveryError, RetryableDeliveryError
from services.alerts.channels.smtp import SmtpEmailChannel, parse_smtp_url
from services.alerts.messages import EmailMessage
from tests.component.alerts.local_servers import SmtpInbox, free_port, smtp_server

SENDER = "alerts@coldchain.example"


def _message(delivery_id: str = "dl-abc") -> EmailMessage:
    return EmailMessage(
        delivery_id=delivery_id,
        to="qa@buyer.example",
        to_name="Hangzhou Fresh Ltd.",
        subject="[coldchain] CRITICAL: Temperature high started - SHP-2026-0001",
        text="Temperature 12.6°C\nhttps://coldchain.example/shipments/SHP-2026-0001\n",
        html='<p>Temperature 12.6°C <a href="https://coldchain.example/shipments/SHP-2026-0001">x</a></p>',
    )


def _send(url: str, message: EmailMessage) -> str | None:
    channel = SmtpEmailChannel(parse_smtp_url(url), SENDER, timeout_s=5)

    async def go() -> str | None:
        await channel.start()
        try:
            return await channel.send(message)
        finally:
            await channel.close()

    return asyncio.run(go())


def test_email_arrives_with_text_html_and_a_message_id_from_the_delivery() -> None:
    inbox = SmtpInbox()
    with smtp_server(inbox) as port:
        ref = _send(f"smtp://127.0.0.1:{port}", _message())
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert inbox.envelopes == [(SENDER, ["qa@buyer.example"])]
    assert mail["Message-ID"] == "<dl-abc@coldchain.example>" == ref
    assert mail["Subject"].startswith("[coldchain] CRITICAL")
    assert "Hangzhou Fresh Ltd." in mail["To"]
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "12.6°C" in text.get_content()
    assert 'href="https://coldchain.example/shipments/SHP-2026-0001"' in html.get_content()


def test_the_same_delivery_resent_carries_the_same_message_id() -> None:
    inbox = SmtpInbox()
    with smtp_server(inbox) as port:
        _send(f"smtp://127.0.0.1:{port}", _message("dl-1"))
        _send(f"smtp://127.0.0.1:{port}", _message("dl-1"))
        _send(f"smtp://127.0.0.1:{port}", _message("dl-2"))
    ids = [m["Message-ID"] for m in inbox.messages]
    assert ids[0] == ids[1] != ids[2]


def test_login_from_the_url() -> None:
    inbox = SmtpInbox()
    with smtp_server(inbox, with_auth=True) as port:
        _send(f"smtp://bot%40coldchain:s3cret@127.0.0.1:{port}", _message())
    assert inbox.logins == ["bot@coldchain"] and len(inbox.messages) == 1


def test_refused_mailbox_is_permanent() -> None:
    inbox = SmtpInbox(rcpt_reply="550 5.1.1 no such user")
    with smtp_server(inbox) as port, pytest.raises(PermanentDeliveryError):
        _send(f"smtp://127.0.0.1:{port}", _message())
    assert inbox.messages == []


def test_temporary_refusal_is_retryable() -> None:
    inbox = SmtpInbox(data_reply="451 4.3.0 try again later")
    with smtp_server(inbox) as port, pytest.raises(RetryableDeliveryError):
        _send(f"smtp://127.0.0.1:{port}", _message())


def test_server_down_is_retryable() -> None:
    with pytest.raises(RetryableDeliveryError):
        _send(f"smtp://127.0.0.1:{free_port()}", _message())
