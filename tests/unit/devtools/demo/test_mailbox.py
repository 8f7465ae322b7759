"""The demo's mail catcher and SMS gateway, spoken to over loopback as the alert service would."""

from __future__ import annotations

import email
import email.policy
import json
import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
from devtools.demo.mailbox import Delivered, MailCatcher, SmsCatcher


def test_mail_catcher_keeps_each_email_and_reports_its_subject(tmp_path: Path) -> None:
    seen: list[Delivered] = []
    catcher = MailCatcher(tmp_path / "mail", seen.append, port=0)
    catcher.start()
    try:
        message = EmailMessage()
        message["From"] = "coldchain@localhost"
        message["To"] = "qa@buyer.example"
        message["Subject"] = "Excursion opened: SHP-1 temp_high warning"
        message.set_content("box at 7.2 C")
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
            smtp.send_message(message)
    finally:
        catcher.stop()
    assert [(d.channel, d.to, d.text) for d in seen] == [
        ("email", "qa@buyer.example", "Excursion opened: SHP-1 temp_high warning")]
    stored = email.message_from_bytes(seen[0].path.read_bytes(), policy=email.policy.default)
    assert seen[0].path.suffix == ".eml" and seen[0].path.parent == tmp_path / "mail"
    assert stored["Subject"] == "Excursion opened: SHP-1 temp_high warning"


def test_sms_gateway_accepts_the_contract_body_and_refuses_others(tmp_path: Path) -> None:
    seen: list[Delivered] = []
    catcher = SmsCatcher(tmp_path / "sms", seen.append, port=0)
    catcher.start()
    try:
        accepted = httpx.post(catcher.url, json={"to": "+19025550100", "body": "SHP-1 at risk"}, timeout=10)
        refused = httpx.post(catcher.url, json={"number": "+1"}, timeout=10)
    finally:
        catcher.stop()
    assert (accepted.status_code, refused.status_code) == (202, 400)
    assert [(d.channel, d.to, d.text) for d in seen] == [("sms", "+19025550100", "SHP-1 at risk")]
    lines = catcher.log_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["body"] for line in lines] == ["SHP-1 at risk"]
