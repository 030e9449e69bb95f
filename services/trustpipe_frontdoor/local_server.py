"""The front door over plain HTTP for the local stack (which starts and stops it by PID):
``python -m trustpipe_frontdoor.local_server --settings S --credentials C --port P``.

On AWS, API Gateway verifies each request's SigV4 signature (the route's AWS_IAM authorization)
and the Lambda is handed the caller's ARN. Here this server does that check itself
(``trustpipe_frontdoor.sigv4``) against the sensor sessions the local stack obtained from STS on
the moto server, then runs the same core as the Lambda with that session's assumed-role ARN.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from trustpipe import ingest
from trustpipe.settings import Settings
from trustpipe_frontdoor.core import Answer, RawStream, RequestRefused, handle
from trustpipe_frontdoor.sigv4 import authenticate


def sensor_roles(settings: Settings) -> dict[str, str]:
    """Each enterprise's sensor role, from the tenant map."""
    return {ent: t["sensor_role_arn"] for ent, t in settings.tenants.items() if t.get("sensor_role_arn")}


def _kinesis(settings: Settings) -> Any:
    """The moto server's Kinesis (it takes any credentials)."""
    import boto3

    return boto3.client(
        "kinesis",
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the moto server's stand-in credentials
    )


def make_server(settings: Settings, credentials: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A server answering ``POST /records`` as API Gateway + the Lambda do on AWS."""
    by_key = {c.access_key_id: c for c in ingest.load_sensor_credentials(credentials).values()}
    roles = sensor_roles(settings)
    stream = RawStream(_kinesis(settings), settings.raw_stream_name)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            try:
                answer = self._post()
            except Exception as err:  # as the Lambda's failure is API Gateway's 500
                self.log_message("fault: %s: %s", type(err).__name__, err)
                answer = Answer(500, {"message": "Internal Server Error"})
            self._answer(answer)

        def do_GET(self) -> None:
            self._answer(Answer(404, {"message": "Not Found"}))

        def _post(self) -> Answer:
            if self.path != ingest.RECORDS_PATH:
                return Answer(404, {"message": "Not Found"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return Answer(400, {"message": "Content-Length is not a number"})
            if length > ingest.API_GATEWAY_MAX_PAYLOAD_BYTES:
                self.close_connection = True  # the body stays unread
                return Answer(413, {"message": "Request Entity Too Large"})
            body = self.rfile.read(length) if length > 0 else b""
            try:
                principal = authenticate(
                    "POST", self.path, dict(self.headers.items()), body, settings.region, by_key
                )
            except RequestRefused as refused:
                # API Gateway's answer to a bad signature names no detail; the log does.
                self.log_message("refused: %s", refused.reason)
                return Answer(403, {"message": "Forbidden"})
            return handle(principal, body, roles, stream.put)

        def _answer(self, answer: Answer) -> None:
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            print(json.dumps({"frontdoor": format % args}), flush=True)

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = make_server(Settings.load(args.settings), args.credentials, args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
