"""Build the stream stages' Lambda zips (`make lambda`): one per stage (``LAMBDA_STAGES``: the
stream workers and the indexer), its package, the core and the stream batch code, and the locked
versions of what they import, with the registry Lambda's builder
(``schema_registry_lambda.build.build_zip``). boto3 comes with the Lambda runtime; the KCL does not
go in (the Lambda form never imports it)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from schema_registry_lambda.build import ROOT, build_zip
from trustpipe.workers import LAMBDA_STAGES, Worker

STAGE_DEPS = (
    "alembic",
    "avro",
    "aws-lambda-powertools",
    "fastavro",
    "mako",
    "markupsafe",
    "psycopg",
    "psycopg-binary",
    "publicsuffixlist",
    "rapidfuzz",
    "sqlalchemy",
    "typing-extensions",
)
"""What the stages' code imports beyond boto3 (the importer's database code with it): the same set
in every stage's zip, so one lock export serves them all."""
PACKAGE_DEPS = {
    # opensearch-py and what it requires, pinned by the lock (the runtime's boto3 brings urllib3,
    # dateutil and six too, but at its own versions).
    "trustpipe_search": (
        "certifi",
        "charset-normalizer",
        "events",
        "grpcio",
        "idna",
        "opensearch-protobufs",
        "opensearch-py",
        "protobuf",
        "python-dateutil",
        "requests",
        "six",
        "urllib3",
    ),
}
"""A stage's dependencies beyond ``STAGE_DEPS``: the indexer's search client, in its zip only."""
HANDLER_MODULE = "lambda_handler"
STAGE_RUNTIME, STAGE_PYTHON, STAGE_PLATFORM = "python3.12", "3.12", "x86_64-manylinux_2_28"
"""The stages' runtime: Amazon Linux 2023 (glibc 2.34). Not python3.11's Amazon Linux 2 (glibc
2.26): the scorer's rapidfuzz has x86_64 wheels for glibc 2.27 and later only."""


def package_of(worker: Worker) -> str:
    """The worker's package (its KCL processor's): ``trustpipe_scorer`` for the scorer."""
    return worker.processor.split(".")[0]


def handler_of(worker: Worker) -> str:
    """The function's handler setting: ``trustpipe_scorer.lambda_handler.handler``."""
    return f"{package_of(worker)}.{HANDLER_MODULE}.handler"


def deps_of(worker: Worker) -> tuple[str, ...]:
    """What ``worker``'s zip carries beside its code: ``STAGE_DEPS`` and its package's own."""
    return STAGE_DEPS + PACKAGE_DEPS.get(package_of(worker), ())


def zip_name(worker: Worker) -> str:
    return f"{worker.name}-lambda.zip"


def build(
    worker: Worker,
    out_dir: Path,
    uv: list[str] | None = None,
    root: Path = ROOT,
    python: str = STAGE_PYTHON,
    platform: str = STAGE_PLATFORM,
    compresslevel: int = 9,
) -> Path:
    """``worker``'s zip in ``out_dir`` (wheels for ``python`` on ``platform``); its path."""
    services = root / "services"
    packages = {
        "trustpipe": services / "trustpipe",
        "trustpipe/_schemas": root / "schemas",
        "trustpipe_stream": services / "trustpipe_stream",
        package_of(worker): services / package_of(worker),
    }
    return build_zip(
        out_dir / zip_name(worker), packages, [], deps_of(worker), uv, root, python, platform, compresslevel
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "build")
    parser.add_argument("--uv", default=None, help="How to run uv (default: the virtualenv's).")
    parser.add_argument("--stage", action="append", help="Only this worker (repeatable; default: all).")
    args = parser.parse_args()
    for w in LAMBDA_STAGES:
        if args.stage is None or w.name in args.stage:
            path = build(w, args.out_dir, shlex.split(args.uv) if args.uv else None)
            print(f"{path} {path.stat().st_size / 1024 / 1024:.2f} MiB")
