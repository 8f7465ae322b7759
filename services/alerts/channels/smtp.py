"""Email over SMTP with aiosmtplib (``smtp://`` plain or STARTTLS, ``smtps://`` TLS)."""

from __future__ import annotations

import email.message
import email.utils
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from services.alerts.channels.base import PermanentDeliveryError, RetryableDeliveryError
from services.alerts.messages import EmailMessage


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    use_tls: bool
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """``smtp://[user:pass@]host:port`` or ``smtps://…`` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"SMTP URL has no host: {url!r}")
    use_tls = parts.scheme == "smtps"
    return SmtpEndpoint(
        host=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def message_id(delivery_id: str, sender: str) -> str:
    """The same delivery always carries the same Message-ID, so a resend after a crash
    is recognisable as a duplicate by mail servers and clients that deduplicate on it."""
    domain = sender.rpartition("@")[2] or "coldchain.invalid"
    return f"<{delivery_id}@{domain}>"


def build_mime(message: EmailMessage, sender: str) -> email.message.EmailMessage:
    mime = email.message.EmailMessage()
    mime["From"] = sender
    mime["To"] = email.utils.formataddr((message.to_name, message.to))
    mime["Subject"] = message.subject
    mime["Message-ID"] = message_id(message.delivery_id, sender)
    mime["X-Coldchain-Delivery"] = message.delivery_id
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    # After the content: setting it clears Content-* headers. Mail clients pick fonts (CJK)
    # and offer a translation by it.
    mime["Content-Language"] = message.language
    return mime


class SmtpEmailChannel:
    """One connection per message: alerts are rare, and a fresh connection never goes stale."""

    def __init__(self, endpoint: SmtpEndpoint, sender: str, timeout_s: float = 30.0) -> None:
        self._endpoint = endpoint
        self._sender = sender
        self._timeout_s = timeout_s

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, message: EmailMessage) -> str | None:
        mime = build_mime(message, self._sender)
        ep = self._endpoint
        try:
            await aiosmtplib.send(
                mime,
                hostname=ep.host,
                port=ep.port,
                username=ep.username,
                password=ep.password,
                use_tls=ep.use_tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _classify_refusals(exc) from exc
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            raise _by_code(exc.code, str(exc)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Connection, timeout, auth or sender trouble is the server's or the
            # configuration's, not this message's: retry, so fixing it loses nothing.
            raise RetryableDeliveryError(f"SMTP: {exc}") from exc
        return message_id(message.delivery_id, self._sender)

    async def already_accepted(self, message: EmailMessage) -> bool:
        # SMTP cannot be asked; the deterministic Message-ID makes a resend a duplicate.
        return False


def _by_code(code: int, text: str) -> RetryableDeliveryError | PermanentDeliveryError:
    if code >= 500:
        return PermanentDeliveryError(f"SMTP {code}: {text}")
    return RetryableDeliveryError(f"SMTP {code}: {text}")


def _classify_refusals(
    exc: aiosmtplib.SMTPRecipientsRefused,
) -> RetryableDeliveryError | PermanentDeliveryError:
    codes = [r.code for r in exc.recipients]
    if codes and all(code >= 500 for code in codes):
        return PermanentDeliveryError(f"SMTP recipients refused: {exc}")
    return RetryableDeliveryError(f"SMTP recipients refused: {exc}")
