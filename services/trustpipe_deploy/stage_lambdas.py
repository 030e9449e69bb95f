"""Build the stream stages' Lambda zips (`make lambda`): one per stage (``LAMBDA_STAGES``: the
stream workers and the indexer), its package, the core and the stream batch code, and the locked
versions of what they import, with the registry Lambda's builder
(``schema_registry_lambda.build.build_zip``). boto3 comes with the Lambda runtime; the KCL does not
go in (the Lambda form never imports it).

The apps behind API Gateway (``APPS``: the review API) are built the same way, each from its
packages and the core, into ``build/<name>-lambda.zip``."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from pathlib import Path

from schema_registry_lambda.build import ROOT, build_zip, default_uv, locked_requirements
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


class UnlockedDependencyError(RuntimeError):
    """A zip names a dependency that the lock's runtime set does not pin."""


@dataclass(frozen=True)
class App:
    """A Lambda function behind API Gateway that is no stream stage: its zip's name, its packages
    (the first holds ``lambda_handler``; each a folder of services/), and what they import beyond
    boto3."""

    name: str
    packages: tuple[str, ...]
    deps: tuple[str, ...]

    @property
    def handler(self) -> str:
        """The function's handler setting (the Terraform module's ``handler``)."""
        return f"{self.packages[0]}.{HANDLER_MODULE}.handler"


REVIEW = App(
    name="review",
    # The app, the search store's queries, and the alerter's channel a release is sent through
    # (with the stream batch code the alerter's worker module imports; no KCL).
    packages=("trustpipe_review", "trustpipe_search", "trustpipe_alerter", "trustpipe_stream"),
    deps=(
        *STAGE_DEPS,
        *PACKAGE_DEPS["trustpipe_search"],
        # The claims' reader (the local server's token checks import it too).
        "pyjwt",
        # Powertools' request validation and OpenAPI document (enable_validation=True).
        "annotated-types",
        "pydantic",
        "pydantic-core",
        "typing-inspection",
    ),
)
"""The review API (issue 36; infra/modules/review)."""
APPS = (REVIEW,)


def missing_packages(app: App, root: Path = ROOT) -> list[str]:
    """``app``'s packages that are not in services/ (an app not built yet)."""
    return [p for p in app.packages if not (root / "services" / p / "__init__.py").is_file()]


def build_app(
    app: App,
    out_dir: Path,
    uv: list[str] | None = None,
    root: Path = ROOT,
    python: str = STAGE_PYTHON,
    platform: str = STAGE_PLATFORM,
    compresslevel: int = 9,
) -> Path:
    """``app``'s zip in ``out_dir``: the core with its schemas, ``app``'s packages, and the
    lock's versions of its dependencies, every one of which the lock must pin (a name the runtime
    set lacks would otherwise be left out of the zip without a word)."""
    uv = uv or default_uv()
    pinned = {pin.split("==")[0].lower() for pin in locked_requirements(uv, root, app.deps)}
    unpinned = sorted(set(app.deps) - pinned)
    if unpinned:
        raise UnlockedDependencyError(
            f"{app.name}: {', '.join(unpinned)} not among the lock's runtime dependencies (pyproject)"
        )
    packages = _with_core(root, app.packages)
    return build_zip(
        out_dir / f"{app.name}-lambda.zip", packages, [], app.deps, uv, root, python, platform, compresslevel
    )


def _with_core(root: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """A zip's packages: the core with its schemas, and each of ``names`` (folders of services/)."""
    services = root / "services"
    return {"trustpipe": services / "trustpipe", "trustpipe/_schemas": root / "schemas"} | {
        name: services / name for name in names
    }


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
    packages = _with_core(root, ("trustpipe_stream", package_of(worker)))
    return build_zip(
        out_dir / zip_name(worker), packages, [], deps_of(worker), uv, root, python, platform, compresslevel
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "build")
    parser.add_argument("--uv", default=None, help="How to run uv (default: the virtualenv's).")
    parser.add_argument(
        "--stage", action="append", help="Only this worker or app (repeatable; default: all)."
    )
    args = parser.parse_args()
    uv = shlex.split(args.uv) if args.uv else None
    built = [build(w, args.out_dir, uv) for w in LAMBDA_STAGES if args.stage is None or w.name in args.stage]
    for app in APPS:
        if args.stage is not None and app.name not in args.stage:
            continue
        absent = missing_packages(app)
        if absent:
            # Until its package lands: the other zips still build; a root that deploys the app
            # stops at its missing zip.
            print(f"{app.name}: not built, services/ has no {', '.join(absent)}")
            continue
        built.append(build_app(app, args.out_dir, uv))
    for path in built:
        print(f"{path} {path.stat().st_size / 1024 / 1024:.2f} MiB")
