"""The registry client: 5xx and dropped connections retry with backoff, 4xx never do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from urllib3.util import Retry

from trustpipe.codec import FramedDecoder, UnknownSchemaIdError
from trustpipe.registry_client import UNKNOWN_ID_SECONDS, RegistryClient, RegistryClientError
from trustpipe.transient import is_transient

SCHEMA = {"type": "record", "name": "R", "fields": []}


class Script:
    """Answers to hand out in order, then 200s; counts the hits."""

    def __init__(self, *answers: tuple[int, dict]) -> None:
        self.answers = list(answers)
        self.hits = 0


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            script.hits += 1
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = (
                script.answers.pop(0) if script.answers else (200, {"id": 5, "schema": json.dumps(SCHEMA)})
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *_args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_server_faults_are_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [
        (503, {"error_code": 50001, "message": "busy"}),
        (500, {"error_code": 50001, "message": "x"}),
    ]
    assert RegistryClient(url).register("s", SCHEMA) == 5
    assert script.hits == 3


def test_client_errors_are_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(409, {"error_code": 409, "message": "incompatible"})]
    with pytest.raises(RegistryClientError, match=r"incompatible \(HTTP 409, code 409\)"):
        RegistryClient(url).register("s", SCHEMA)
    assert script.hits == 1


def test_unknown_id_is_the_codec_error(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(404, {"error_code": 40403, "message": "Schema 9 not found"})]
    with pytest.raises(UnknownSchemaIdError, match="schema id 9 is not registered"):
        RegistryClient(url).get_by_id(9)
    assert script.hits == 1


def test_ids_are_cached(server: tuple[str, Script]) -> None:
    url, script = server
    client = RegistryClient(url)
    for _ in range(5):
        assert client.get_by_id(5) == SCHEMA
        assert client.register("s", SCHEMA) == 5
    assert script.hits == 2
    assert client.requests == 2


def test_unreachable_registry_is_a_clear_error() -> None:
    from trustpipe_stack.procs import free_port

    client = RegistryClient(
        f"http://127.0.0.1:{free_port()}", timeout=0.5, retries=Retry(total=1, backoff_factor=0)
    )
    with pytest.raises(RegistryClientError, match="unreachable at"):
        client.get_by_id(1)


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def framed(schema_id: int) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big")


def test_an_unknown_id_costs_one_request_a_period_however_many_records_carry_it(
    server: tuple[str, Script],
) -> None:
    # GIVEN a registry that has no schema 9 until later (then every id answers with a schema)
    url, script = server
    script.answers = [(404, {"error_code": 40403, "message": "Schema 9 not found"})]
    clock = Clock()
    client = RegistryClient(url, clock=clock)
    decoder = FramedDecoder(client, SCHEMA)
    # WHEN 200 records carry id 9 within the period
    reasons = []
    for _ in range(200):
        with pytest.raises(UnknownSchemaIdError) as caught:
            decoder.decode(framed(9))
        reasons.append(str(caught.value))
        clock.now += (UNKNOWN_ID_SECONDS - 1) / 200
    # THEN each is rejected with the reason, and the registry was asked once
    assert reasons == ["schema id 9 is not registered"] * 200
    assert (script.hits, client.requests) == (1, 1)
    # AND once the period is over the id is asked again, and a schema registered meanwhile found
    clock.now += 2
    assert client.get_by_id(9) == SCHEMA
    assert script.hits == 2


def test_a_not_found_without_the_registry_code_is_unknown_but_not_remembered(
    server: tuple[str, Script],
) -> None:
    # GIVEN a 404 that is not the registry's "schema not found" (a route the gateway lacks)
    url, script = server
    script.answers = [(404, {"message": "Not Found"})]
    client = RegistryClient(url, clock=Clock())
    with pytest.raises(UnknownSchemaIdError):
        client.get_by_id(9)
    # WHEN the id comes again at once THEN the registry is asked again
    assert client.get_by_id(9) == SCHEMA
    assert script.hits == 2


def test_a_throttling_registry_is_not_remembered_as_unknown(server: tuple[str, Script]) -> None:
    # GIVEN a registry that throttles the first request
    url, script = server
    script.answers = [(429, {"error_code": 429, "message": "slow down"})]
    client = RegistryClient(url, clock=Clock())
    # WHEN an id is looked up THEN the error is the registry's, transient, not an unknown id
    with pytest.raises(RegistryClientError) as caught:
        client.get_by_id(5)
    assert is_transient(caught.value)
    # AND the next lookup, at once, asks again and finds it
    assert client.get_by_id(5) == SCHEMA
    assert script.hits == 2


def test_an_unreachable_registry_is_not_remembered_as_unknown() -> None:
    from trustpipe_stack.procs import free_port

    # GIVEN a registry nobody listens for
    client = RegistryClient(
        f"http://127.0.0.1:{free_port()}",
        timeout=0.5,
        retries=Retry(total=0, backoff_factor=0),
        clock=Clock(),
    )
    decoder = FramedDecoder(client, SCHEMA)
    # WHEN two records carry the same id at once
    for _ in range(2):
        with pytest.raises(RegistryClientError, match="unreachable at") as caught:
            decoder.decode(framed(5))
        # THEN each fails with a transient error, never as an unknown id
        assert is_transient(caught.value)
    # AND each asked the registry
    assert client.requests == 2
