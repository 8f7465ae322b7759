"""``POST /api/v1/sms/inbound``: an SMS reply ``ACK CODE``, relayed by the SMS provider.

From Twilio (signed form data, ``X-Twilio-Signature``), the generic gateway (signed JSON,
``X-Coldchain-Signature``) or an ops token (JSON); see ``sms_inbound``. It carries no bearer
token when signed, so ``RequestLimits`` lets it through to here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field, ValidationError

from schemas.http import SmsReplyResult
from services.alerts.outbox import acknowledge_by_reply
from services.api.auth import authenticate, bearer
from services.api.deps import Pool, Settings
from services.api.problems import problem_responses
from services.api.settings import ApiSettings
from services.api.sms_inbound import gateway_valid, parse_reply, twilio_valid

PATH = "/api/v1/sms/inbound"

router = APIRouter(tags=["alerts"], responses=problem_responses(401, 403, 404, 422))


class InboundSms(BaseModel):
    from_: str = Field(alias="from", pattern=r"^\+[1-9]\d{6,14}$")
    body: str = Field(max_length=1600)


@router.post(PATH, response_model=SmsReplyResult)
async def sms_reply(request: Request, pool: Pool, settings: Settings) -> SmsReplyResult:
    reply = await _verified_reply(request, pool, settings)
    code = parse_reply(reply.body)
    if code is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
            "loc": ["body", "body"], "type": "value_error", "msg": 'expected a reply of the form "ACK CODE"'}])
    async with pool.connection() as conn:
        found = await acknowledge_by_reply(conn, code, reply.from_, datetime.now(UTC))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no open alert with that code for that number")
    return SmsReplyResult(alert_id=found)


async def _verified_reply(request: Request, pool: Pool, settings: ApiSettings) -> InboundSms:
    raw = await request.body()
    twilio = request.headers.get("x-twilio-signature")
    gateway = request.headers.get("x-coldchain-signature")
    twilio_token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    gateway_secret = settings.sms_inbound_secret.get_secret_value() if settings.sms_inbound_secret else None
    try:
        if twilio is not None:
            form = {k: str(v) for k, v in (await request.form()).items()}
            # What Twilio signed: the public URL it called.
            url = settings.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if not twilio_token or not twilio_valid(twilio_token, url, form, twilio):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "X-Twilio-Signature does not match")
            return InboundSms.model_validate({"from": form.get("From", ""), "body": form.get("Body", "")})
        if gateway is not None:
            stamp = request.headers.get("x-coldchain-timestamp", "")
            if not gateway_secret or not gateway_valid(gateway_secret, stamp, raw, gateway, time.time()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "X-Coldchain-Signature does not match")
            return InboundSms.model_validate_json(raw)
        who = await authenticate(pool, await bearer(request))
        if not who.can_write:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} is read-only here")
        return InboundSms.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.errors(include_url=False)) from exc
