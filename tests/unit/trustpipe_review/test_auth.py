"""The local stand-in for API Gateway's JWT authorizer: a token is taken only when signed by the
pool's key, unexpired, of this pool and app client, and an id token."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from trustpipe_review.auth import TokenVerifier, gateway_claims, issuer
from trustpipe_review.errors import UnauthenticatedError

POOL, CLIENT, REGION = "us-east-1_pool", "client-1", "us-east-1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Keys:
    """The pool's JWKS, as PyJWKClient would give its one key."""

    def get_signing_key_from_jwt(self, _token: str) -> Any:
        return type("Key", (), {"key": KEY.public_key()})()


def token(key: Any = KEY, alg: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer(REGION, POOL),
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "custom:enterprise": "acme",
        "custom:role": "reviewer",
    }
    claims.update(overrides)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": "k"}
    )


@pytest.fixture
def verifier() -> TokenVerifier:
    v = TokenVerifier(REGION, POOL, CLIENT, endpoint="http://127.0.0.1:1")
    v._keys = Keys()  # type: ignore[assignment]
    return v


def test_a_token_of_the_pool_gives_its_claims(verifier: TokenVerifier) -> None:
    assert verifier.claims(f"Bearer {token()}")["custom:enterprise"] == "acme"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "no token", id="missing"),
        pytest.param("Basic dXNlcjpwYXNz", "must be 'Bearer", id="not-bearer"),
        pytest.param("Bearer " + "x" * 9000, "over 8192", id="oversized"),
        pytest.param("Bearer not.a.jwt", "not valid", id="malformed"),
        pytest.param(f"Bearer {token(key=OTHER_KEY)}", "not valid", id="forged"),
        pytest.param(f"Bearer {token(exp=int(time.time()) - 120)}", "expired", id="expired"),
        pytest.param(f"Bearer {token(iss=issuer(REGION, 'us-east-1_other'))}", "user pool", id="wrong-pool"),
        pytest.param(f"Bearer {token(aud='another-client')}", "app client", id="wrong-client"),
        pytest.param(f"Bearer {token(token_use='access')}", "id token", id="access-token"),
        pytest.param(f"Bearer {token(exp=None)}", "not valid", id="no-expiry"),
        pytest.param(f"Bearer {token(key='s' * 32, alg='HS256')}", "not valid", id="hs256"),
    ],
)
def test_a_token_that_is_not_the_pools_is_refused_with_one_reason(
    verifier: TokenVerifier, header: str | None, reason: str
) -> None:
    with pytest.raises(UnauthenticatedError, match=reason):
        verifier.claims(header)


def test_on_aws_the_claims_are_the_authorizers_and_none_means_none() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": {"custom:enterprise": "acme"}}}}}
    assert gateway_claims(event) == {"custom:enterprise": "acme"}
    assert gateway_claims({"requestContext": {}}) == {}
    assert gateway_claims({}) == {}
