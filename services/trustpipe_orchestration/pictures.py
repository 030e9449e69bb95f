"""What every report of the pipeline shares: matplotlib headless (Agg), a figure saved as PNG, one
static HTML page that shows the pictures, the upload to S3 and the link a person opens."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trustpipe.settings import Settings

PAGE = "index.html"


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display), imported only when drawing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)


def page(title: str, intro: str, folder: Path, pictures: Sequence[str]) -> str:
    """The report's HTML: ``title`` (text), ``intro`` (HTML the caller escaped), and every picture
    of ``folder`` inlined (data URIs): the page is one self-contained file, whether it is opened
    from S3 through a signed link, downloaded from the console, or read from disk."""
    heading = html.escape(title)
    images = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode((folder / name).read_bytes()).decode()}"'
        f' alt="{name[:-4]}"><figcaption>{name[:-4]}</figcaption></figure>'
        for name in pictures
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}td,th{{padding:2px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%;border:1px solid #ddd}}</style></head>
<body><h1>{heading}</h1>
{intro}
{images}
</body></html>
"""


def publish(client: Any, bucket: str, prefix: str, folder: Path, pictures: Sequence[str]) -> str:
    """Upload a drawn report under ``prefix``; the page's key. The pictures go first, so the page
    never names a picture that is not there."""
    for name in (*pictures, PAGE):
        content_type = "text/html; charset=utf-8" if name.endswith(".html") else "image/png"
        client.put_object(
            Bucket=bucket, Key=prefix + name, Body=(folder / name).read_bytes(), ContentType=content_type
        )
    return prefix + PAGE


SIGNED_LINK_SECONDS = 7 * 24 * 3600
"""A local report link's life (SigV4's longest)."""


def url(settings: Settings, client: Any, bucket: str, key: str) -> str:
    """Where a person opens the page: on a local endpoint a signed link to the object (the moto
    server refuses anonymous reads, as S3 would), on AWS the object in the S3 console (behind the
    person's own login, never a link that outlives its signature)."""
    if settings.aws_endpoint:
        return str(
            client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=SIGNED_LINK_SECONDS
            )
        )
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?region={settings.region}&prefix={key}"
