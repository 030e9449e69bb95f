"""The local stack's moto server answers Terraform's AWS provider's resend of a request it
carried out with the first answer, and carries out everyone else's resends as sent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from trustpipe_emulation.moto_h2c import ProviderResends

PROVIDER = "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 terraform-provider-aws/5.100.0 aws-sdk-go-v2/1.36.3"


class Creates:
    """A service that makes one function per name and refuses the second ("already exists")."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.made: list[str] = []
        self.hold = hold

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.hold is not None:
            self.hold.wait(5)
        name = environ["PATH_INFO"]
        if name in self.made:
            start_response("409 Conflict", [("Content-Type", "application/json")])
            return [b'{"__type": "ResourceConflictException"}']
        self.made.append(name)
        start_response("201 Created", [("Content-Type", "application/json")])
        return [f'{{"FunctionName": "{name}"}}'.encode()]


def call(
    app: Any, name: str, attempt: int, agent: str = PROVIDER, invocation: str = "inv-1"
) -> tuple[str, bytes]:
    environ = {
        "PATH_INFO": name,
        "REQUEST_METHOD": "POST",
        "HTTP_USER_AGENT": agent,
        "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
        "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=25",
    }
    answered: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: answered.append(status)))
    return answered[0], body


def test_the_providers_resend_of_a_create_it_carried_out_gets_the_first_answer() -> None:
    service = Creates()
    app = ProviderResends(service)
    first = call(app, "/frontdoor", attempt=1)
    resent = call(app, "/frontdoor", attempt=2)
    assert first == resent == ("201 Created", b'{"FunctionName": "/frontdoor"}')
    assert service.made == ["/frontdoor"]
    # a new invocation of the same create is carried out, and refused as AWS would
    assert call(app, "/frontdoor", attempt=1, invocation="inv-2")[0] == "409 Conflict"


def test_a_resend_arriving_while_the_first_copy_is_carried_out_waits_for_its_answer() -> None:
    hold = threading.Event()
    service = Creates(hold)
    app = ProviderResends(service)
    answers: list[tuple[str, bytes]] = []
    first = threading.Thread(target=lambda: answers.append(call(app, "/frontdoor", attempt=1)))
    first.start()
    resend = threading.Thread(target=lambda: answers.append(call(app, "/frontdoor", attempt=2)))
    resend.start()
    hold.set()
    first.join(5)
    resend.join(5)
    assert [a[0] for a in answers] == ["201 Created", "201 Created"] and service.made == ["/frontdoor"]


def test_other_clients_resends_and_resends_of_a_failed_request_are_carried_out() -> None:
    service = Creates()
    app = ProviderResends(service)
    boto = "Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux"
    assert call(app, "/scorer", attempt=1, agent=boto)[0] == "201 Created"
    assert call(app, "/scorer", attempt=2, agent=boto)[0] == "409 Conflict"
    # the provider's request that failed is tried afresh on its resend
    service.made.append("/taken")
    assert call(app, "/taken", attempt=1, invocation="inv-3")[0] == "409 Conflict"
    service.made.remove("/taken")
    assert call(app, "/taken", attempt=2, invocation="inv-3")[0] == "201 Created"
