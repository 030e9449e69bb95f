"""What a picture the project draws must be: a PNG that decodes, of a real size, not blank."""

from __future__ import annotations

from pathlib import Path


def assert_a_real_picture(path: Path, min_bytes: int = 10_000, min_inked: float = 0.02) -> None:
    """Decodes, at least 500 x 200 pixels and ``min_bytes``, and ``min_inked`` of its pixels not
    near white."""
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    height, width = pixels.shape[:2]
    assert path.stat().st_size > min_bytes and height >= 200 and width >= 500, path
    inked = (pixels[:, :, :3].min(axis=2) < 0.9).mean()
    assert inked > min_inked, f"{path.name}: {inked:.1%} of its pixels inked"
