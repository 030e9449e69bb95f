"""Build the registry's Lambda deployment zip: its code, the core's compat module, and the
locked versions of what it imports (boto3 comes with the Lambda runtime)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ZIP = Path("build") / "schema-registry-lambda.zip"
RUNTIME_DEPS = ("avro", "aws-lambda-powertools", "jmespath", "typing-extensions")
CORE_FILES = ("__init__.py", "compat.py", "decodable.py", "errors.py", "metrics.py")
LAMBDA_PYTHON, LAMBDA_PLATFORM = "3.11", "x86_64-manylinux2014"
"""The registry function's runtime (python3.11, Amazon Linux 2: glibc 2.26) and the wheels it takes."""


def locked_requirements(uv: list[str], root: Path, deps: tuple[str, ...] = RUNTIME_DEPS) -> list[str]:
    """The lock's pins of ``deps`` (the project's runtime dependencies only)."""
    exported = subprocess.run(
        [
            *uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = [line.split(";")[0].strip() for line in exported.splitlines() if "==" in line]
    return [pin for pin in pins if pin.split("==")[0].lower() in deps]


def default_uv() -> list[str]:
    """uv from the project's virtualenv (a dev dependency), else from PATH."""
    beside = Path(sys.executable).with_name("uv")
    return [str(beside)] if beside.exists() else ["uv"]


def build(out: Path, uv: list[str] | None = None, root: Path = ROOT) -> Path:
    """Write the zip to ``out`` and return its path."""
    packages = {"schema_registry_lambda": root / "schema_registry_lambda" / "schema_registry_lambda"}
    core = [root / "services" / "trustpipe" / name for name in CORE_FILES]
    return build_zip(out, packages, core, RUNTIME_DEPS, uv, root)


def build_zip(
    out: Path,
    packages: dict[str, Path],
    core: list[Path],
    deps: tuple[str, ...],
    uv: list[str] | None = None,
    root: Path = ROOT,
    python: str = LAMBDA_PYTHON,
    platform: str = LAMBDA_PLATFORM,
    compresslevel: int = 9,
) -> Path:
    """A Lambda zip at ``out``: the locked versions of ``deps`` built for the runtime's
    ``python`` and ``platform`` (wheels only), each of ``packages`` (name -> source folder)
    whole, and the ``core`` modules (files of ``trustpipe``). The registry's zip and the stream
    stages' zips are all built so."""
    uv = uv or default_uv()
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        subprocess.run(
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--target",
                str(stage),
                "--python-version",
                python,
                "--python-platform",
                platform,
                "--only-binary",
                ":all:",
                *locked_requirements(uv, root, deps),
            ],
            cwd=root,
            check=True,
        )
        for name, source in packages.items():
            shutil.copytree(
                source, stage / name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
            )
        if core:
            (stage / "trustpipe").mkdir(exist_ok=True)
        for path in core:
            target = stage / "trustpipe" / path.relative_to(root / "services" / "trustpipe")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        out.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed into place: a reader (Terraform, a second build running at
        # the same time) sees the last whole zip, never one half-written.
        partial = out.with_name(f".{out.name}.{os.getpid()}")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
            for path in sorted(stage.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    zf.write(path, path.relative_to(stage))
        os.replace(partial, out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_ZIP)
    parser.add_argument("--uv", default=None, help="How to run uv (default: the virtualenv's).")
    args = parser.parse_args()
    zip_path = build(args.out, shlex.split(args.uv) if args.uv else None)
    print(f"{zip_path} {zip_path.stat().st_size / 1024 / 1024:.2f} MiB")
