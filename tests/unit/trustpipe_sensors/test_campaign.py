"""The mid-day campaign: senders no World has seen, none of its mail before it starts, the same
campaign for the same seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trustpipe import layout
from trustpipe.model.features import ip_prefix
from trustpipe_sensors.campaign import Campaign, day_of_traffic, unseen_by
from trustpipe_sensors.world import World

DAY = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.mark.parametrize("seed", [1, 3, 42, 2026])
def test_the_campaigns_domains_and_networks_are_unseen_by_any_world(seed: int) -> None:
    campaign = Campaign.new(seed, DAY)
    assert len(set(campaign.domains)) == len(campaign.domains) == 3
    for world_seed in (1, 3, 42, seed):
        assert unseen_by(World.build(world_seed), campaign)


def test_a_world_that_knows_a_campaign_domain_is_told_apart() -> None:
    world = World.build(3)
    campaign = Campaign.new(3, DAY)
    world.attacker_domains.append(campaign.domains[0])
    assert not unseen_by(world, campaign)


def test_the_campaign_starts_mid_day_and_all_its_mail_is_malicious_from_its_own_senders() -> None:
    # GIVEN a campaign starting at 10:05
    world = World.build(3)
    campaign = Campaign.new(3, DAY + timedelta(hours=10, minutes=5), per_quarter=8)
    # WHEN a day's traffic is drawn with it
    traffic = day_of_traffic(world, [campaign], DAY + timedelta(hours=9), seed=5, scale=0.05, hours=3)
    ours = [m for m in traffic if m.attack_type == "campaign"]
    # THEN none of its mail comes before it starts, and it comes every quarter after, to everyone
    assert ours and min(m.record["received_at"] for m in ours) >= campaign.starts
    quarters = {layout.quarter_of(m.record["received_at"]) for m in ours}
    assert len(quarters) == 8  # 10:00 (from 10:05) to 11:45
    assert {m.record["enterprise_id"] for m in ours} == set(world.enterprises)
    assert all(m.is_malicious for m in ours)
    assert {m.record["from_address"].rpartition("@")[2] for m in ours} <= set(campaign.domains)
    assert {ip_prefix(m.record["sending_ip"]) for m in ours} <= set(campaign.networks)
    # and the traffic is in arrival order, the same for the same seed
    assert [m.record["received_at"] for m in traffic] == sorted(m.record["received_at"] for m in traffic)
    again = day_of_traffic(world, [campaign], DAY + timedelta(hours=9), seed=5, scale=0.05, hours=3)
    assert [m.record for m in again] == [m.record for m in traffic]


def test_a_newcomer_is_legitimate_unseen_and_never_the_campaign() -> None:
    starts = DAY + timedelta(hours=10)
    campaign, newcomer = Campaign.new(3, starts), Campaign.new(3, starts, malicious=False)
    assert unseen_by(World.build(3), newcomer)
    assert not set(newcomer.domains) & set(campaign.domains)
    assert not set(newcomer.networks) & set(campaign.networks)
    world = World.build(3)
    mail = [m for ent in world.enterprises.values() for m in newcomer.quarter(ent, starts, seed=1)]
    assert mail and not any(m.is_malicious or m.attack_type for m in mail)
    assert {m.record["from_address"].rpartition("@")[2] for m in mail} <= set(newcomer.domains)
