"""The registry client: 5xx and dropped connections retry with backoff, 4xx never do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from urllib3.util import Retry

from trustpipe.codec import UnknownSchemaIdError
from trustpipe.registry_client import RegistryClient, RegistryClientError

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
