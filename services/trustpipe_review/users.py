"""The reviewers' user pool on the local stack (moto's Cognito), as the Terraform module makes
it on AWS: a pool whose users carry ``custom:enterprise`` and ``custom:role``, an app client
that signs in with a password, and a user per enterprise reviewer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from trustpipe.settings import Settings, SettingsError
from trustpipe.tenants import check_enterprise_id
from trustpipe_review.auth import ENTERPRISE_CLAIM, ROLE_CLAIM, ROLES

POOL_NAME = "trustpipe-reviewers"
CLIENT_NAME = "trustpipe-review"


@dataclass(frozen=True)
class Pool:
    pool_id: str
    client_id: str

    @classmethod
    def of(cls, settings: Settings) -> Pool:
        """The settings' pool and app client; SettingsError when they name none."""
        if not settings.review_user_pool_id or not settings.review_client_id:
            raise SettingsError("the settings name no review user pool and client: run `trustpipe local up`")
        return cls(settings.review_user_pool_id, settings.review_client_id)


def ensure_pool(cognito: Any, name: str = POOL_NAME) -> Pool:
    """The pool and its app client, made unless one of that name exists."""
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == name), None)
    if pool_id is None:
        pool_id = cognito.create_user_pool(
            PoolName=name,
            Schema=[
                {"Name": "enterprise", "AttributeDataType": "String", "Mutable": False},
                {"Name": "role", "AttributeDataType": "String", "Mutable": True},
            ],
        )["UserPool"]["Id"]
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == CLIENT_NAME), None)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=CLIENT_NAME,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=["email", ENTERPRISE_CLAIM, ROLE_CLAIM],
        )["UserPoolClient"]["ClientId"]
    return Pool(pool_id, client_id)


def add_user(
    cognito: Any,
    pool: Pool,
    enterprise_id: str,
    email: str,
    role: str = "reviewer",
    password: str | None = None,
) -> str:
    """A user of ``enterprise_id`` with ``role``, signed in with ``password`` (made when not
    given); the password."""
    check_enterprise_id(enterprise_id)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(sorted(ROLES))}")
    password = password or f"Tp-{secrets.token_urlsafe(12)}1a"
    cognito.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": ENTERPRISE_CLAIM, "Value": enterprise_id},
            {"Name": ROLE_CLAIM, "Value": role},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True
    )
    return password


def sign_in(cognito: Any, pool: Pool, email: str, password: str) -> str:
    """The user's id token (what the API takes as ``Authorization: Bearer``)."""
    answer = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token


def login_of(cognito: Any, pool: Pool, enterprise_id: str, email: str) -> str:
    """A reviewer of ``enterprise_id`` to sign in as, made unless there, with a fresh password
    (what a demo prints); the password."""
    try:
        return add_user(cognito, pool, enterprise_id, email)
    except cognito.exceptions.UsernameExistsException:
        password = f"Tp-{secrets.token_urlsafe(12)}1a"
        cognito.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True
        )
        return password
