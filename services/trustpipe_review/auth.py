"""Who is asking: an enterprise's reviewer, from a Cognito id token's claims, never from a
parameter.

On AWS API Gateway's JWT authorizer has verified the token (signature, expiry, issuer, audience)
before the Lambda runs, and the handler reads the claims it passes on
(``requestContext.authorizer.jwt.claims``). Locally ``TokenVerifier`` does the authorizer's
part: PyJWT against the pool's JWKS (moto's Cognito signs and serves them as Cognito does).
Either way ``reviewer_of`` turns the claims into a ``Reviewer``, refusing what is not one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from trustpipe.tenants import ENTERPRISE_ID
from trustpipe_review.errors import ForbiddenError, UnauthenticatedError

ENTERPRISE_CLAIM = "custom:enterprise"
ROLE_CLAIM = "custom:role"
REVIEWER, VIEWER = "reviewer", "viewer"
ROLES = frozenset({REVIEWER, VIEWER})
"""A reviewer decides; a viewer only reads."""
MAX_TOKEN_CHARS = 8192
"""A Cognito id token is 1-2 KiB; a longer Authorization header is refused unread."""
LEEWAY_SECONDS = 30
"""Clock skew allowed on ``exp``/``iat`` between the pool and this host."""
ALGORITHMS = ["RS256"]
"""Cognito signs with RS256 only: any other ``alg`` (``none``, HS256 with the public key) is refused."""


@dataclass(frozen=True)
class Reviewer:
    enterprise_id: str
    role: str
    username: str

    @property
    def may_decide(self) -> bool:
        return self.role == REVIEWER


def reviewer_of(claims: Any, served: frozenset[str]) -> Reviewer:
    """The reviewer a verified token's claims name; UnauthenticatedError when there are none,
    ForbiddenError when they name no enterprise this deployment serves or no known role."""
    if not isinstance(claims, dict) or not claims:
        raise UnauthenticatedError("no verified token: send 'Authorization: Bearer <Cognito id token>'")
    enterprise = claims.get(ENTERPRISE_CLAIM)
    role = claims.get(ROLE_CLAIM)
    if not isinstance(enterprise, str) or not ENTERPRISE_ID.match(enterprise) or enterprise not in served:
        raise ForbiddenError("the token names no enterprise this deployment serves")
    if role not in ROLES:
        raise ForbiddenError(f"the token's role must be one of {', '.join(sorted(ROLES))}")
    username = claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "?"
    return Reviewer(enterprise, str(role), str(username)[:256])


def issuer(region: str, pool_id: str) -> str:
    """The ``iss`` of a pool's tokens (Cognito's, and moto's too)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def jwks_url(region: str, pool_id: str, endpoint: str | None = None) -> str:
    """Where a pool's signing keys are: Cognito's issuer URL, or the moto server's path for it."""
    base = endpoint.rstrip("/") if endpoint else f"https://cognito-idp.{region}.amazonaws.com"
    return f"{base}/{pool_id}/.well-known/jwks.json"


@dataclass
class TokenVerifier:
    """What API Gateway's JWT authorizer checks, done here: the signature against the pool's
    JWKS, ``exp``, ``iss`` (this pool), ``aud`` (this app client) and ``token_use`` (id)."""

    region: str
    pool_id: str
    client_id: str
    endpoint: str | None = None

    def __post_init__(self) -> None:
        self._keys = jwt.PyJWKClient(jwks_url(self.region, self.pool_id, self.endpoint), lifespan=3600)

    def claims(self, authorization: str | None) -> dict[str, Any]:
        """The claims of the bearer token in an ``Authorization`` header; UnauthenticatedError
        with the one reason it is refused."""
        if not authorization:
            raise UnauthenticatedError("no token: send 'Authorization: Bearer <Cognito id token>'")
        if len(authorization) > MAX_TOKEN_CHARS:
            raise UnauthenticatedError(f"the Authorization header is over {MAX_TOKEN_CHARS} characters")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("the Authorization header must be 'Bearer <Cognito id token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> dict[str, Any]:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.client_id,
                issuer=issuer(self.region, self.pool_id),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise UnauthenticatedError("the token has expired: sign in again") from err
        except jwt.InvalidIssuerError as err:
            raise UnauthenticatedError("the token is not of this deployment's user pool") from err
        except jwt.InvalidAudienceError as err:
            raise UnauthenticatedError("the token is not for this app client") from err
        except jwt.PyJWKClientConnectionError as err:
            raise UnauthenticatedError("the user pool's signing keys cannot be read now") from err
        except jwt.PyJWTError as err:
            raise UnauthenticatedError(f"the token is not valid: {type(err).__name__}") from err
        if claims.get("token_use") != "id":
            raise UnauthenticatedError("send the id token (token_use 'id'), not the access token")
        return claims


def gateway_claims(event: dict[str, Any]) -> dict[str, Any]:
    """The claims API Gateway's JWT authorizer verified (an HTTP API event, payload 2.0); {} when
    the event carries none (the route was reached without the authorizer: refused)."""
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")
    return dict(claims) if isinstance(claims, dict) else {}
