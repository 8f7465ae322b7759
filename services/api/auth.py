"""Bearer-token authentication and who may see a shipment, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from schemas.shipment import Shipment
from services.api.deps import Pool, Registry
from services.api.tokens import Principal, hash_token
from services.registry.access import may_see

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def authenticate(pool: AsyncConnectionPool, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
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


async def principal(credentials: Credentials, pool: Pool) -> Principal:
    return await authenticate(pool, credentials)


def ops_only(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.can_write:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} is read-only here")
    return who


Caller = Annotated[Principal, Depends(principal)]
Operator = Annotated[Principal, Depends(ops_only)]


def not_found(shipment_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")


async def visible_shipment(shipment_id: str, who: Caller, registry: Registry) -> Shipment:
    """The shipment of the path, when the caller may see it. Another party's shipment is
    "not found", not "forbidden": its existence is private too."""
    shipment = await registry.get(shipment_id)
    if shipment is None or not may_see(who, shipment):
        raise not_found(shipment_id)
    return shipment


VisibleShipment = Annotated[Shipment, Depends(visible_shipment)]

