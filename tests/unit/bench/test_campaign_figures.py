"""P12's figures: the AUC as the rank statistic, ties counted half; the first QUARANTINE of the
campaign counted from its first message to the end of its batch; a label counted the quarter
after next."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from bench import p12_campaign

from trustpipe_sensors.campaign import Campaign
from trustpipe_sensors.generator import Labelled

AT = datetime(2026, 11, 21, 10, 7, 30, tzinfo=UTC)


def test_the_auc_counts_pairs_ranked_right_and_ties_as_half() -> None:
    assert p12_campaign.auc_of([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert p12_campaign.auc_of([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    # one positive above both negatives, one tied with one of them: (2 + 1.5) / 4
    assert p12_campaign.auc_of([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == 0.875
    assert math.isnan(p12_campaign.auc_of([0.3, 0.4], [True, True]))


def message(minutes: float, campaign: bool) -> Labelled:
    return Labelled(
        {"received_at": AT + timedelta(minutes=minutes)}, campaign, "campaign" if campaign else None
    )


def test_the_first_quarantine_counts_from_the_campaigns_first_message() -> None:
    traffic = [message(0, False), message(1, True), message(2, False), message(5.5, True), message(9, True)]
    verdicts = [
        (0.99, "QUARANTINE"),
        (0.5, "LABEL"),
        (0.99, "QUARANTINE"),
        (0.95, "QUARANTINE"),
        (0.9, "QUARANTINE"),
    ]
    campaign = Campaign.new(1, AT)
    # (its first QUARANTINE at 10:13:00, out with its minute's batch at 10:14, the campaign's
    # first message at 10:08:30)
    assert p12_campaign.first_quarantine(traffic, verdicts, campaign) == 5.5
    assert p12_campaign.first_quarantine(traffic, [(0.1, "PASS_THROUGH")] * 5, campaign) is None


def test_a_label_is_counted_at_the_start_of_the_quarter_after_next() -> None:
    assert p12_campaign.label_lands(message(0, True)) == datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
