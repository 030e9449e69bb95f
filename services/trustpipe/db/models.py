"""Tables of the web app's store.

``scored_messages`` is partitioned by day of the message's own time (``received_at``, UTC), so
the store holds a window: retention drops whole old partitions (``trustpipe.db.partitions``).
Its key is (enterprise, message id) with ``received_at``, because a PostgreSQL primary key on a
partitioned table must include the partition key; a message's ``received_at`` is its sensor's
and the same on every delivery, so the upsert stays idempotent. The web app's main question
("this enterprise's quarantined mail in the last day, newest first") is served by a partial
index, which stays small because quarantined mail is a few percent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={"ix": "ix_%(table_name)s_%(column_0_N_name)s", "pk": "pk_%(table_name)s"}
    )


class ScoredMessage(Base):
    """One message's latest verdict at one enterprise (a newer model's verdict replaces an
    older one); the same Message-ID at two enterprises is two rows."""

    __tablename__ = "scored_messages"

    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    from_address: Mapped[str] = mapped_column(Text)
    from_display_name: Mapped[str] = mapped_column(Text)
    from_domain: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(Text)
    sending_ip: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text))
    model_version: Mapped[str] = mapped_column(Text)
    model_promotion: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    """The promotion number of the model (``trustpipe.model.artifact.promote``): verdicts are
    ordered by it, so a model promoted again by a rollback replaces the verdicts of the one it
    replaced; 0 for verdicts from before promotions were numbered."""
    source: Mapped[str] = mapped_column(String(8))
    source_ref: Mapped[str] = mapped_column(Text)
    sensor_schema_version: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    """When the verdict was first stored (a newer verdict replacing it keeps this)."""

    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "message_id", "received_at"),
        Index(
            "ix_scored_messages_quarantine",
            "enterprise_id",
            text("received_at DESC"),
            postgresql_where=text("verdict = 'QUARANTINE'"),
        ),
        {"postgresql_partition_by": "RANGE (received_at)"},
    )


class ScoringStats(Base):
    """Verdict counts for one enterprise and hour (the latest run's)."""

    __tablename__ = "scoring_stats"

    enterprise_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hour: Mapped[str] = mapped_column(String(13), primary_key=True)
    model_version: Mapped[str] = mapped_column(Text)
    messages: Mapped[int] = mapped_column(BigInteger)
    quarantined: Mapped[int] = mapped_column(BigInteger)
    labelled: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[int] = mapped_column(BigInteger)
    set_aside: Mapped[int] = mapped_column(BigInteger)
    mean_score: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    score_histogram: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    """Scored messages per trust-score bin (20 of width 0.05); empty for stats from before it."""


class ImportLedger(Base):
    """Every object the importers took, by key and ETag: ``stored`` (its rows committed, its
    QUARANTINE/LABEL verdicts not yet all forwarded), ``imported`` (done) or ``set_aside``."""

    __tablename__ = "import_ledger"

    object_key: Mapped[str] = mapped_column(Text, primary_key=True)
    etag: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    forwarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the object's QUARANTINE/LABEL verdicts went to the alerters (null: not yet, or none)."""


class ImportForward(Base):
    """A stored QUARANTINE/LABEL verdict not yet on the imported stream (written in the upsert's
    transaction, deleted once forwarded): the alerters hear of every stored verdict, even when
    a forward fails after the commit."""

    __tablename__ = "import_forwards"

    enterprise_id: Mapped[str] = mapped_column(Text, primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    source_key: Mapped[str] = mapped_column(Text, index=True)
    """The object (or, for the stream, ``STREAM_SOURCE``) whose import stored the verdict."""
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))


class ImportError_(Base):
    """Input the importers set aside, with why (never retried: fix the object and re-send)."""

    __tablename__ = "import_errors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(Text)
    object_key: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    row_position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """A refused row's place in its object (from 0); null when the whole input was set aside."""
    error_type: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    message_body: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
