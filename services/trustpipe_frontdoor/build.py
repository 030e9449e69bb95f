"""Build the front door's Lambda deployment zip: its handler and core, and the few core modules
they import (boto3 comes with the Lambda runtime; nothing else is needed)."""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ZIP = Path("build") / "frontdoor-lambda.zip"
PACKAGE_FILES = ("__init__.py", "core.py", "handler.py")
"""The local server and its SigV4 check stay out: on AWS that check is API Gateway's."""
CORE_FILES = ("__init__.py", "errors.py", "ingest.py", "kinesis.py", "retry.py", "tenants.py")


def build(out: Path, root: Path = ROOT) -> Path:
    """Write the zip to ``out`` (beside, then renamed into place) and return its path."""
    sources = [
        (root / "services" / "trustpipe_frontdoor" / n, f"trustpipe_frontdoor/{n}") for n in PACKAGE_FILES
    ]
    sources += [(root / "services" / "trustpipe" / n, f"trustpipe/{n}") for n in CORE_FILES]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path, name in sources:
            # A fixed timestamp: the same sources give the same zip, so Terraform's source hash
            # changes (and the function is updated) only when the code does.
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    os.replace(partial, out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_ZIP)
    args = parser.parse_args()
    zip_path = build(args.out)
    print(f"{zip_path} {zip_path.stat().st_size / 1024:.1f} KiB")
