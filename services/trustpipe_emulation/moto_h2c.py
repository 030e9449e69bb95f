"""moto's AWS stand-in served over HTTP/1.1 and cleartext HTTP/2 (h2c).

The Kinesis Client Library's Kinesis client speaks HTTP/2 only, and moto's own server
(`python -m moto.server`, werkzeug) HTTP/1.1 only; hypercorn serves the same WSGI application
on both. Everything else (boto3, Terraform, the CLI) keeps speaking HTTP/1.1 to the same port.
The server also publishes SQS's and Kinesis's own metrics, as AWS does (``aws_metrics``).

Run as ``python -m trustpipe_emulation.moto_h2c --host 127.0.0.1 --port 5000``; SIGTERM or SIGINT
stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from trustpipe_emulation import aws_metrics

log = logging.getLogger("trustpipe.moto")

KEEP_ALIVE_SECONDS = 300
MAX_BODY_BYTES = 5 * 1024**3
"""S3 takes single PUTs of up to 5 GiB; hypercorn's WSGI default (16 MiB) would refuse a large
scored file."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="moto_h2c", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--aws-metrics-interval",
        type=float,
        default=aws_metrics.DEFAULT_INTERVAL_SECONDS,
        help="seconds between publishing SQS's and Kinesis's own metrics (0: never)",
    )
    args = parser.parse_args(argv)
    # moto builds the URLs it hands out (SQS queue URLs among them) from this.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    fifo_deduplication_as_sqs()
    dynamodb_writes_atomic()
    rest_api_policy_as_api_gateway()
    if args.aws_metrics_interval > 0:
        aws_metrics.Publisher(args.aws_metrics_interval).start()
    app = ProviderResends(whole_body(DomainDispatcherApplication(create_backend_app)))
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.wsgi_max_body_size = MAX_BODY_BYTES
    # Clients keep idle connections for up to 90 s (Go's default, Terraform's provider) and retry
    # a request that meets a connection the server just closed, create calls included: closing
    # idle connections first (hypercorn's default is 5 s) turned such retries into "already
    # exists" errors during `terraform apply`.
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.accesslog = None
    config.errorlog = "-"
    asyncio.run(serve(app, config, mode="wsgi", shutdown_trigger=stop_signal()))  # type: ignore[arg-type]


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def whole_body(app: WSGIApp) -> WSGIApp:
    """The app's response as one list with at least one chunk. hypercorn's WSGI adapter sends the
    response's start with its first chunk, so an empty body (S3's 204s, most HEADs) would never
    be answered; moto's responses are in memory already, so nothing is lost by collecting them."""

    def collected(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = app(environ, start_response)
        try:
            chunks = [chunk for chunk in body if chunk]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return chunks or [b""]

    return collected


PROVIDER_AGENT = "terraform-provider-aws/"
"""Terraform's AWS provider names itself so in its requests' User-Agent."""
RESEND_MEMORY = 4096
"""Answers to the provider's requests the server keeps for a resend (each a few KiB)."""
RESEND_BODY_BYTES = 1024**2
"""An answer longer than this is not kept: its resend is carried out again."""
RESEND_WAIT_SECONDS = 120.0


class ProviderResends:
    """Terraform's AWS provider resends a request when it loses the connection before the
    answer (the SDK's retry, with the same ``amz-sdk-invocation-id`` and a later ``attempt`` in
    ``amz-sdk-request``). On this server, on a loaded machine, the first copy had sometimes been
    carried out, so the resend of a create was refused as done ("already exists", "duplicate")
    and the apply failed with the resource made but not in its state. The server answers the
    provider's resend with the answer it gave (or is giving) the first copy, and logs it;
    every other client's requests, the stream's included, are carried out as sent, resends and
    all, as AWS does."""

    def __init__(self, app: WSGIApp, memory: int = RESEND_MEMORY) -> None:
        self.app, self.memory = app, memory
        self._lock = threading.Lock()
        self._answers: collections.OrderedDict[str, _Answer] = collections.OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        if not invocation or PROVIDER_AGENT not in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        with self._lock:
            answer = self._answers.get(invocation)
            first = answer is None
            if answer is None:
                answer = self._answers[invocation] = _Answer()
                while len(self._answers) > self.memory:
                    self._answers.popitem(last=False)
        if first:
            return self._answer(answer, environ, start_response)
        if answer.done.wait(RESEND_WAIT_SECONDS) and answer.status and answer.status.startswith("2"):
            log.warning(
                "answered a resend (%s) of a request carried out before: %s %s -> %s",
                environ.get("HTTP_AMZ_SDK_REQUEST", ""),
                environ.get("REQUEST_METHOD"),
                environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO"),
                answer.status,
            )
            start_response(answer.status, answer.headers)
            return answer.body
        # the first copy failed (or never answered): the resend is carried out, as any retry
        return self.app(environ, start_response)

    def _answer(
        self, answer: _Answer, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.status, answer.headers = status, list(headers)
            return start_response(status, headers, exc_info)

        try:
            body = list(self.app(environ, keep))
            if sum(len(chunk) for chunk in body) > RESEND_BODY_BYTES:
                answer.status = None
            else:
                answer.body = body
        except BaseException:
            answer.status = None
            raise
        finally:
            answer.done.set()  # (after the body: a resend waiting on it replays all of it)
        return body


class _Answer:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []


DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def dynamodb_writes_atomic() -> None:
    """DynamoDB applies a conditional write, and a transaction, atomically: its condition holds
    when the item is written. moto checks and then writes with no lock, and the server answers
    requests on several threads, so two conditional puts of one key at once could both succeed
    (the registry's concurrent-registration test saw one schema take two versions). The local
    stack runs moto's DynamoDB writes one at a time."""
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_one_at_a_time", False):
            continue

        @functools.wraps(original)
        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        locked._one_at_a_time = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)


def fifo_deduplication_as_sqs() -> None:
    """SQS drops a FIFO send whose deduplication id it accepted in the last five minutes, whether
    that first copy was received and deleted since or not; moto drops it only while the first copy
    is still in the queue. The alerter's exactly-once rests on SQS's rule (a batch retried after
    its send re-sends with the same ids), so the local stack keeps SQS's rule: each FIFO queue
    remembers the ids it accepted, for SQS's five minutes."""
    import threading

    from moto.sqs import models

    window_ms = models.DEDUPLICATION_TIME_IN_SECONDS * 1000
    original = models.Queue.add_message
    lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        dedup_id = message.deduplication_id if self.fifo_queue else None
        if dedup_id is not None:
            now = int(message.sent_timestamp)
            with lock:
                # deduplication id -> first send (epoch ms), kept on the queue: it goes with it
                accepted: dict[str, int] = self.__dict__.setdefault("_accepted_deduplication_ids", {})
                first = accepted.get(dedup_id)
                if first is not None and now - first < window_ms:
                    return
                accepted[dedup_id] = now
                if len(accepted) > 100_000:  # forget what no send can collide with any more
                    for key in [k for k, t in accepted.items() if now - t >= window_ms]:
                        del accepted[key]
        original(self, message)

    models.Queue.add_message = add_message  # type: ignore[method-assign]


def rest_api_policy_as_api_gateway() -> None:
    """API Gateway answers a REST API's resource policy as JSON escaped once more (its quotes as
    ``\\"``), and the AWS provider unescapes it before reading it; moto answers it as stored, so
    Terraform could not read back the private schema registry's policy. The local stack answers
    it as API Gateway does."""
    import json

    from moto.apigateway.models import RestAPI

    original = RestAPI.to_dict
    if getattr(original, "_escaped_policy", False):
        return

    def to_dict(self: Any) -> dict[str, Any]:
        out: dict[str, Any] = original(self)
        if out.get(RestAPI.PROP_POLICY):
            out[RestAPI.PROP_POLICY] = json.dumps(out[RestAPI.PROP_POLICY])[1:-1]
        return out

    to_dict._escaped_policy = True  # type: ignore[attr-defined]
    RestAPI.to_dict = to_dict  # type: ignore[method-assign]


def stop_signal() -> object:
    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    return wait


if __name__ == "__main__":
    main()
