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


def locked_requirements(uv: list[str], root: Path) -> list[str]:
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
    return [pin for pin in pins if pin.split("==")[0].lower() in RUNTIME_DEPS]


def default_uv() -> list[str]:
    """uv from the project's virtualenv (a dev dependency), else from PATH."""
    beside = Path(sys.executable).with_name("uv")
    return [str(beside)] if beside.exists() else ["uv"]


def build(out: Path, uv: list[str] | None = None, root: Path = ROOT) -> Path:
    """Write the zip to ``out`` and return its path."""
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
                "3.11",
                "--python-platform",
                "x86_64-manylinux2014",
                "--only-binary",
                ":all:",
                *locked_requirements(uv, root),
            ],
            cwd=root,
            check=True,
        )
        shutil.copytree(
            root / "schema_registry_lambda" / "schema_registry_lambda",
            stage / "schema_registry_lambda",
        )
        (stage / "trustpipe").mkdir()
        for name in CORE_FILES:
            shutil.copy(root / "services" / "trustpipe" / name, stage / "trustpipe" / name)
        out.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed into place: a reader (Terraform, a second build running at
        # the same time) sees the last whole zip, never one half-written.
        partial = out.with_name(f".{out.name}.{os.getpid()}")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
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
