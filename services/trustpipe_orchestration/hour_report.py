"""One hour, drawn: the score distribution per enterprise with its thresholds, the verdict mix, the
quality gate's trailing bands against this hour, and the stage funnel (landed -> scored ->
imported); PNG files and a static ``index.html`` that shows them. Everything is read from what the
pipeline stored (the hour's stats in PostgreSQL, its manifest, the model artifact), so any past
hour can be drawn again.

matplotlib (Agg) is imported when drawing, never when a DAG file is parsed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trustpipe import contracts, layout
from trustpipe.db.query import Database
from trustpipe.model.artifact import ModelArtifact, Thresholds
from trustpipe_orchestration import checks, pictures
from trustpipe_orchestration.config import QualityBands

PICTURES = ("scores.png", "verdicts.png", "gate.png", "funnel.png")
VERDICT_COLOURS = {"QUARANTINE": "#c0392b", "LABEL": "#e67e22", "PASS_THROUGH": "#27ae60"}

HOUR_SQL = (
    "SELECT enterprise_id, messages, quarantined, labelled, passed, score_histogram "
    "FROM scoring_stats WHERE hour = %(hour)s ORDER BY enterprise_id"
)
IMPORTED_ROWS_SQL = "SELECT count(*) FROM scored_messages WHERE source_ref = %(hour)s"


@dataclass(frozen=True)
class EnterpriseHour:
    enterprise_id: str
    messages: int
    verdicts: dict[str, int]
    histogram: tuple[int, ...]
    """Empty for stats written before ScoringStats carried it."""


@dataclass(frozen=True)
class HourFigures:
    """What the report draws, gathered from the store (``gather``) or given by a test."""

    hour: str
    model_version: str
    enterprises: tuple[EnterpriseHour, ...]
    thresholds: dict[str, Thresholds]
    trailing: dict[str, list[checks.HourStats]]
    """Each enterprise's hours before this one, inside the gate's window."""
    funnel: tuple[tuple[str, int], ...]
    """(stage, records): landed, scored, imported."""
    bands: QualityBands = field(default_factory=QualityBands)


def gather(
    db: Database, hour: datetime, summary: Mapping[str, Any], artifact: ModelArtifact, bands: QualityBands
) -> HourFigures:
    """The hour's figures: its stats and trailing window (PostgreSQL), funnel (``summary``, from
    ``checks.verify_manifest``, and the rows stored), thresholds (the model that scored it)."""
    label = layout.format_hour(hour)
    rows = db.get_records(HOUR_SQL, {"hour": label})
    enterprises = tuple(
        EnterpriseHour(
            e,
            int(m),
            {v: int(n) for v, n in zip(contracts.STATS_COUNTERS, (q, lab, p), strict=True)},
            tuple(int(x) for x in (hist or ())),
        )
        for e, m, q, lab, p, hist in rows
    )
    first, last = checks.trailing_window(hour, bands)
    trailing: dict[str, list[checks.HourStats]] = {}
    for e, h, m, q in db.get_records(checks.GATE_SQL, {"first": first, "last": last}):
        if h < label:
            trailing.setdefault(e, []).append(checks.HourStats(e, h, int(m), int(q)))
    imported = int(db.get_records(IMPORTED_ROWS_SQL, {"hour": label})[0][0])
    return HourFigures(
        hour=label,
        model_version=artifact.version,
        enterprises=enterprises,
        thresholds={e.enterprise_id: artifact.thresholds_for(e.enterprise_id) for e in enterprises},
        trailing=trailing,
        funnel=(
            ("landed", int(summary["records_in"])),
            ("scored", int(summary["records"])),
            ("imported", imported),
        ),
        bands=bands,
    )


def publish(client: Any, bucket: str, hour: datetime, folder: Path) -> str:
    """Upload the drawn report (``draw``'s folder) beside the hour's scored output; the page's key."""
    return pictures.publish(client, bucket, layout.report_prefix(hour), folder, PICTURES)


def draw(figures: HourFigures, out: Path) -> Path:
    """The PNGs and ``index.html`` into ``out``; the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    _scores(figures, out / "scores.png")
    _verdicts(figures, out / "verdicts.png")
    _gate(figures, out / "gate.png")
    _funnel(figures, out / "funnel.png")
    page = out / pictures.PAGE
    page.write_text(_page(figures, out))
    return page


def _grid(n: int, height: float = 2.6) -> tuple[Any, Sequence[Any]]:
    plt = pictures.pyplot()

    fig, axes = plt.subplots(n, 1, figsize=(8, height * n + 0.6), squeeze=False)
    return fig, [row[0] for row in axes]


def _scores(figures: HourFigures, path: Path) -> None:
    fig, axes = _grid(max(1, len(figures.enterprises)))
    width = 1 / contracts.SCORE_HISTOGRAM_BINS
    lefts = [i * width for i in range(contracts.SCORE_HISTOGRAM_BINS)]
    for ax, ent in zip(axes, figures.enterprises, strict=False):
        thresholds = figures.thresholds.get(ent.enterprise_id)
        if ent.histogram:
            ax.bar(lefts, ent.histogram, width=width, align="edge", color="#34495e", edgecolor="white")
            ax.set_yscale("symlog", linthresh=1)
        else:
            ax.text(0.5, 0.5, "no histogram in these stats", ha="center", transform=ax.transAxes)
        if thresholds is not None:
            ax.axvline(
                thresholds.label,
                color=VERDICT_COLOURS["LABEL"],
                ls="--",
                label=f"LABEL {thresholds.label:.3f}",
            )
            ax.axvline(
                thresholds.quarantine,
                color=VERDICT_COLOURS["QUARANTINE"],
                ls="--",
                label=f"QUARANTINE {thresholds.quarantine:.3f}",
            )
            ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
        ax.set_xlim(0, 1)
        ax.set_title(f"{ent.enterprise_id}: {ent.messages:,} messages by score", fontsize=10)
        ax.set_ylabel("messages")
    axes[-1].set_xlabel("trust score (1 = malicious)")
    pictures.save(fig, path)


def _verdicts(figures: HourFigures, path: Path) -> None:
    plt = pictures.pyplot()

    fig, ax = plt.subplots(figsize=(8, 0.8 * max(1, len(figures.enterprises)) + 1.4))
    names = [e.enterprise_id for e in figures.enterprises]
    left = [0.0] * len(names)
    for verdict, colour in VERDICT_COLOURS.items():
        shares = [e.verdicts[verdict] / e.messages if e.messages else 0.0 for e in figures.enterprises]
        ax.barh(names, shares, left=left, color=colour, label=verdict)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the hour's messages")
    ax.set_title(f"{figures.hour}: verdict mix per enterprise", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    pictures.save(fig, path)


def _gate(figures: HourFigures, path: Path) -> None:
    """Per enterprise: the trailing hours' volume and quarantine rate, the band the gate allows
    (shaded) and this hour (the red diamond)."""
    fig, axes = _pairs(max(1, len(figures.enterprises)))
    b = figures.bands
    for (vol_ax, rate_ax), ent in zip(axes, figures.enterprises, strict=False):
        past = figures.trailing.get(ent.enterprise_id, [])
        now_rate = ent.verdicts["QUARANTINE"] / ent.messages if ent.messages else 0.0
        for ax, values, now, band, title in (
            (
                vol_ax,
                [p.messages for p in past],
                ent.messages,
                (b.volume_low * min(p.messages for p in past), b.volume_high * max(p.messages for p in past))
                if past
                else None,
                "volume (messages)",
            ),
            (
                rate_ax,
                [p.quarantine_rate for p in past],
                now_rate,
                (
                    max(0.0, min(p.quarantine_rate for p in past) - b.quarantine_margin),
                    max(p.quarantine_rate for p in past) + b.quarantine_margin,
                )
                if past
                else None,
                "quarantine rate",
            ),
        ):
            ax.plot(range(len(values)), values, "o", color="#7f8c8d", ms=3, label="trailing hours")
            ax.plot([len(values)], [now], "D", color="#c0392b", ms=7, label="this hour")
            if band is not None:
                ax.axhspan(*band, color="#2980b9", alpha=0.15, label="allowed")
            ax.set_title(f"{ent.enterprise_id}: {title}", fontsize=9)
            ax.set_xticks([])
        if len(past) < b.min_history_hours:
            vol_ax.text(
                0.5, 0.9, f"{len(past)} trailing hours: the gate needs {b.min_history_hours}",
                ha="center", transform=vol_ax.transAxes, fontsize=8,
            )  # fmt: skip
    axes[0][1].legend(loc="upper left", fontsize=7)
    pictures.save(fig, path)


def _pairs(n: int) -> tuple[Any, list[tuple[Any, Any]]]:
    plt = pictures.pyplot()

    fig, axes = plt.subplots(n, 2, figsize=(9, 2.4 * n + 0.4), squeeze=False)
    return fig, [(row[0], row[1]) for row in axes]


def _funnel(figures: HourFigures, path: Path) -> None:
    plt = pictures.pyplot()

    fig, ax = plt.subplots(figsize=(7, 3))
    stages = [s for s, _ in figures.funnel]
    counts = [n for _, n in figures.funnel]
    bars = ax.bar(stages, counts, color=["#95a5a6", "#2980b9", "#27ae60"][: len(stages)])
    for bar, n in zip(bars, counts, strict=True):
        ax.annotate(f"{n:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set_ylabel("records")
    ax.set_title(f"{figures.hour}: landed -> scored -> imported", fontsize=10)
    pictures.save(fig, path)


def _page(figures: HourFigures, folder: Path) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(e.enterprise_id)}</td><td>{e.messages:,}</td>"
        + "".join(f"<td>{e.verdicts[v]:,}</td>" for v in VERDICT_COLOURS)
        + "</tr>"
        for e in figures.enterprises
    )
    funnel = " &rarr; ".join(f"{html.escape(s)} {n:,}" for s, n in figures.funnel)
    intro = (
        f"<p>model {html.escape(figures.model_version)}; {funnel}</p>\n<table><tr><th>enterprise</th>"
        f"<th>messages</th><th>quarantined</th><th>labelled</th><th>passed</th></tr>{rows}</table>"
    )
    return pictures.page(f"trustpipe: hour {figures.hour}", intro, folder, PICTURES)
