"""Bearer-token authentication as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.tokens import Principal, hash_token

bearer = HTTPBearer(auto_error=False)


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    pool = request.app.state.pool
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, role, party FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
            (hash_token(credentials.credentials),),
        )
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    return Principal(token_id=row[0], role=row[1], party=row[2])


def ops_only(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.can_write:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} is read-only here")
    return who


Caller = Annotated[Principal, Depends(principal)]
Operator = Annotated[Principal, Depends(ops_only)]
