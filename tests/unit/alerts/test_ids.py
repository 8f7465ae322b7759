from __future__ import annotations

from services.alerts.ids import ACK_CODE_LENGTH, ack_code, ack_token, verify_ack_token


def test_ack_code_is_short_typeable_and_keyed() -> None:
    code = ack_code("al-1", b"secret")
    assert len(code) == ACK_CODE_LENGTH and code.isalnum() and code.upper() == code
    assert not set(code) & set("01ILO")
    assert code == ack_code("al-1", b"secret")
    assert code != ack_code("al-1", b"other")
    assert len({ack_code(f"al-{i}", b"secret") for i in range(200)}) == 200


def test_ack_token_verifies_only_for_its_alert_and_secret() -> None:
    token = ack_token("al-1", b"secret")
    assert verify_ack_token("al-1", token, b"secret")
    assert not verify_ack_token("al-2", token, b"secret")
    assert not verify_ack_token("al-1", token, b"other")
