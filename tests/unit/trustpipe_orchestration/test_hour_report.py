"""The hour's report: every picture drawn from the figures, non-trivial, and the page shows each."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.harness.pictures import assert_a_real_picture
from trustpipe.model.artifact import Thresholds
from trustpipe_orchestration import checks, hour_report
from trustpipe_orchestration.hour_report import EnterpriseHour, HourFigures


def figures(histogram: bool = True) -> HourFigures:
    def ent(name: str, scale: int) -> EnterpriseHour:
        hist = tuple(scale * (200 - 9 * i) if i < 18 else scale * 3 for i in range(20)) if histogram else ()
        return EnterpriseHour(
            name,
            sum(hist) or 1000 * scale,
            {"QUARANTINE": 5 * scale, "LABEL": 20 * scale, "PASS_THROUGH": 975 * scale},
            hist,
        )

    trailing = {
        "acme": [checks.HourStats("acme", f"2026-11-20T{h:02d}", 900 + 10 * h, 4 + h % 3) for h in range(8)],
        "globex": [checks.HourStats("globex", "2026-11-20T00", 2000, 9)],
    }
    return HourFigures(
        hour="2026-11-20T08",
        model_version="20261120T000000-a",
        enterprises=(ent("acme", 1), ent("globex", 2)),
        thresholds={"acme": Thresholds(0.8, 0.5), "globex": Thresholds(0.9, 0.6)},
        trailing=trailing,
        funnel=(("landed", 4321), ("scored", 4321), ("imported", 4321)),
    )


@pytest.mark.parametrize("histogram", [True, False], ids=["with-histogram", "stats-before-histogram"])
def test_the_page_shows_every_picture_and_each_is_real(tmp_path: Path, histogram: bool) -> None:
    page = hour_report.draw(figures(histogram), tmp_path / "2026-11-20T08")
    text = page.read_text()
    # every picture is in the page itself (one self-contained file), the same bytes as its PNG
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', text)
    assert [alt for _, alt in images] == [name[:-4] for name in hour_report.PICTURES]
    for data, alt in images:
        assert base64.b64decode(data) == (page.parent / f"{alt}.png").read_bytes()
        assert_a_real_picture(page.parent / f"{alt}.png")
    assert "2026-11-20T08" in text and "20261120T000000-a" in text
    assert "landed 4,321 &rarr; scored 4,321 &rarr; imported 4,321" in text


def test_enterprise_names_are_escaped_in_the_page(tmp_path: Path) -> None:
    base = figures()
    odd = EnterpriseHour("<script>", 10, {"QUARANTINE": 1, "LABEL": 1, "PASS_THROUGH": 8}, ())
    page = hour_report.draw(
        HourFigures(base.hour, base.model_version, (odd,), {}, {}, base.funnel), tmp_path / "odd"
    )
    assert "<script>" not in page.read_text() and "&lt;script&gt;" in page.read_text()
