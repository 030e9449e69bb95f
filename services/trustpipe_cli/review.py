"""The review API: `trustpipe review serve` (the Lambda's app over plain HTTP, checking the user
pool's tokens itself), `review openapi` (its OpenAPI document) and `review user add` (a reviewer
in the pool the settings name)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustpipe.settings import DEFAULT_LOCAL_DIR, SettingsError
from trustpipe_cli.options import SettingsPath, StateDir, console, load_clients

review_app = typer.Typer(help="The enterprises' review API.", no_args_is_help=True)
user_app = typer.Typer(help="Reviewers in the user pool.", no_args_is_help=True)
review_app.add_typer(user_app, name="user")
OPENAPI_FILE = Path("docs/review-openapi.json")


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


@review_app.command("serve")
def review_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8082,
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Serve the review API over plain HTTP, checking each token against the pool's JWKS."""
    from trustpipe_review.app import review_app, verifier
    from trustpipe_review.local_server import serve

    aws = load_clients(state_dir, settings_path)
    checks = verifier(aws.settings)
    serve(review_app(aws), checks, host, port, say=lambda msg: console.print(msg, highlight=False))


@review_app.command("openapi")
def review_openapi(
    out: Annotated[Path, typer.Option("--out", help="Where to write it ('-': stdout).")] = OPENAPI_FILE,
) -> None:
    """Write the review API's OpenAPI document, generated from its code."""
    from trustpipe_review.api import openapi_json
    from trustpipe_review.openapi import document_app

    text = openapi_json(document_app())
    if str(out) == "-":
        console.print(text, highlight=False, soft_wrap=True, end="")
        return
    out.write_text(text)
    console.print(f"wrote {out}", highlight=False)


@user_app.command("add")
def review_user_add(
    enterprise: Annotated[str, typer.Option("--enterprise", help="The reviewer's enterprise.")],
    email: Annotated[str, typer.Option("--email", help="The reviewer's email (their user name).")],
    role: Annotated[str, typer.Option("--role", help="reviewer (decides) or viewer (reads).")] = "reviewer",
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Add a reviewer of an enterprise to the settings' user pool; prints their password."""
    from trustpipe.tenants import TenantError
    from trustpipe_review.users import Pool, add_user

    aws = load_clients(state_dir, settings_path)
    settings = aws.settings
    pool = Pool.of(settings)
    if enterprise not in settings.enterprises:
        raise SettingsError(f"enterprise {enterprise!r} is not served by this deployment")
    try:
        password = add_user(
            aws.client("cognito-idp"),
            pool,
            enterprise,
            email,
            role,
        )
    except (TenantError, ValueError) as err:
        raise SettingsError(str(err)) from err
    console.print(f"{role} {email} of {enterprise}: password {password}", highlight=False)


@review_app.command("token")
def review_token(
    email: Annotated[str, typer.Option("--email", help="The reviewer's email (their user name).")],
    password: Annotated[
        str, typer.Option("--password", help="Their password.", prompt=True, hide_input=True)
    ],
    state_dir: StateDir = DEFAULT_LOCAL_DIR,
    settings_path: SettingsPath = None,
) -> None:
    """Sign in to the settings' user pool and print the id token (for `Authorization: Bearer`)."""
    from trustpipe_review.users import Pool, sign_in

    aws = load_clients(state_dir, settings_path)
    settings = aws.settings
    pool = Pool.of(settings)
    cognito = aws.client("cognito-idp")
    try:
        token = sign_in(cognito, pool, email, password)
    except cognito.exceptions.NotAuthorizedException as err:
        raise SettingsError("the user pool refused that email and password") from err
    print(token)
