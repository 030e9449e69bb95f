"""A Lambda function run locally: its zip unpacked, AWS's runtime interface client (``awslambdaric``)
as the runtime, and a small Runtime API server handing it one event at a time.

moto cannot execute Lambda code here (it would need Docker). The Runtime API is small: the
runtime asks ``GET /2018-06-01/runtime/invocation/next`` for an event (the server holds the request
until there is one), then answers ``POST .../invocation/<id>/response`` or ``.../<id>/error``
(``.../init/error`` when the handler cannot even be loaded). ``LocalFunction.invoke`` queues an
event and waits for that answer, as the Invoke API does; an invocation that outlasts the
function's timeout ends the runtime process ("Task timed out") and the next one starts afresh.

The function sees only its zip and what Lambda's runtime brings (``RUNTIME_PACKAGES``: boto3 and
its dependencies, and the runtime interface client): Python runs with ``-S``, no site-packages.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API = "/2018-06-01/runtime"
RUNTIME_PACKAGES = (
    "awslambdaric",
    "runtime_client",
    "simplejson",
    "snapshot_restore_py",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
)
"""What Lambda's Python runtime carries beside the function's zip (the SDK and the runtime
client); found in this interpreter's site-packages by top-level module name."""
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Answer:
    """What an invocation came back with: the handler's return value, or its error."""

    payload: Any = None
    error: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class _Pending:
    request_id: str
    event: Any
    done: threading.Event = field(default_factory=threading.Event)
    taken: threading.Event = field(default_factory=threading.Event)
    """Set once a runtime has the event."""
    answer: Answer | None = None


class RuntimeApi:
    """The Runtime API on 127.0.0.1 (a free port): events in, answers out, one at a time."""

    def __init__(self, function_arn: str, timeout_seconds: float) -> None:
        self.function_arn, self.timeout_seconds = function_arn, timeout_seconds
        self._events: queue.Queue[_Pending] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self.init_error: dict[str, Any] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def submit(self, event: Any) -> _Pending:
        pending = _Pending(str(uuid.uuid4()), event)
        self._pending[pending.request_id] = pending
        self._events.put(pending)
        return pending

    def next_event(self, conn: socket.socket) -> _Pending | None:
        """The next event for the runtime on ``conn``; None once that runtime has gone (a
        killed runtime's request must not take the next one's event)."""
        while not _closed(conn):
            try:
                pending = self._events.get(timeout=POLL_SECONDS / 2)
            except queue.Empty:
                continue
            if not _closed(conn):
                return pending
            self._events.put(pending)
        return None

    def answer(self, request_id: str, answer: Answer) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is not None:
            pending.answer = answer
            pending.done.set()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{API}/invocation/next":
                    return self._reply(404, {"errorMessage": "unknown path"})
                pending = api.next_event(self.connection)
                if pending is None:  # the runtime that asked is gone (killed, timed out)
                    return
                pending.taken.set()
                body = json.dumps(pending.event).encode()
                self.send_response(200)
                deadline_ms = int((_now() + api.timeout_seconds) * 1000)
                for name, value in (
                    ("Lambda-Runtime-Aws-Request-Id", pending.request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                    ("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"),
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                ):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(API).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = _json_or_text(body)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
                    api.answer(parts[1], Answer(payload=_json_or_text(body)))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
                    api.answer(parts[1], Answer(error=_json_or_text(body)))
                else:
                    return self._reply(404, {"errorMessage": "unknown path"})
                self._reply(202, {"status": "OK"})

            def _reply(self, code: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class LocalFunction:
    """One function instance: the unpacked zip under ``awslambdaric``, restarted after a crash
    or a timeout (a cold start, as Lambda would)."""

    def __init__(
        self,
        zip_path: Path,
        handler: str,
        environment: dict[str, str] | None = None,
        timeout_seconds: float = 60.0,
        name: str = "function",
        log_path: Path | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.handler, self.timeout_seconds, self.region = handler, timeout_seconds, region
        self.environment = dict(environment or {})
        self._dir = Path(tempfile.mkdtemp(prefix=f"lambda-{name}-"))
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(self._dir / "task")
        _link_runtime(self._dir / "runtime")
        self.api = RuntimeApi(f"arn:aws:lambda:us-east-1:123456789012:function:{name}", timeout_seconds)
        self._log = open(log_path or self._dir / "function.log", "ab")  # noqa: SIM115
        self._proc: subprocess.Popen[bytes] | None = None
        self._crashes: list[float] = []

    def crash_next(self, count: int = 1, after_seconds: float = 0.05) -> None:
        """Fault injection: each of the next ``count`` invocations has its runtime SIGKILLed
        ``after_seconds`` after it took the event (mid-batch: some side effects done, no answer)."""
        self._crashes += [after_seconds] * count

    def invoke(self, event: Any) -> Answer:
        """Run the handler on ``event``; its answer (an error for a crash or a timeout)."""
        self._ensure_running()
        pending = self.api.submit(event)
        deadline = _now() + self.timeout_seconds
        if self._crashes and pending.taken.wait(self.timeout_seconds):
            time.sleep(self._crashes.pop(0))
            self.kill()
        while not pending.done.wait(POLL_SECONDS):
            crashed = self._proc is not None and self._proc.poll() is not None
            if crashed or _now() > deadline or self.api.init_error is not None:
                self.api.answer(pending.request_id, Answer(error=self._failure(crashed)))
                self._stop()
        assert pending.answer is not None
        return pending.answer

    def kill(self) -> None:
        """SIGKILL the runtime now, as an execution environment dies mid-invocation: the
        invocation under way fails, the next one starts a new runtime (a cold start)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def close(self) -> None:
        self._stop()
        self.api.close()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _failure(self, crashed: bool) -> dict[str, Any]:
        if self.api.init_error is not None:
            return {"errorType": "Runtime.InitError", "detail": self.api.init_error}
        if crashed:
            return {"errorType": "Runtime.ExitError", "errorMessage": "the runtime process exited"}
        return {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}

    def _ensure_running(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self.api.init_error = None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": f"{self._dir / 'task'}:{self._dir / 'runtime'}",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(self._dir / "task"),
            "AWS_LAMBDA_FUNCTION_NAME": self.api.function_arn.rsplit(":", 1)[-1],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **self.environment,
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-m", "awslambdaric", self.handler],
            cwd=self._dir / "task",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def _link_runtime(target: Path) -> None:
    """``RUNTIME_PACKAGES`` from this interpreter's site-packages, linked into ``target``."""
    import awslambdaric

    target.mkdir(parents=True, exist_ok=True)

    packages = Path(awslambdaric.__file__).parents[1]
    for entry in packages.iterdir():
        top = entry.name.split(".")[0]
        if top in RUNTIME_PACKAGES and not entry.name.endswith((".dist-info", ".pth")):
            (target / entry.name).symlink_to(entry)


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return body.decode("utf-8", "replace")


def _closed(conn: socket.socket) -> bool:
    """Whether the peer closed ``conn`` (readable with nothing to read)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _now() -> float:
    return time.time()
