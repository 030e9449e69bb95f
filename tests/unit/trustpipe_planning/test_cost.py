"""The cost model: dated prices, the deployed topology, and the figures docs/deploy.md quotes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.harness.paths import ROOT
from trustpipe.errors import UserError
from trustpipe_planning import cost

INFRA = ROOT / "infra"


def test_the_price_table_is_dated_and_cited() -> None:
    prices = cost.load_prices()
    assert prices["region"] == "us-east-1" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices["recorded"])
    assert all(url.startswith("https://aws.amazon.com/") for url in prices["sources"].values())


def test_idle_is_what_stays_on_and_traffic_only_adds() -> None:
    idle = cost.idle(INFRA)
    busy = cost.estimate(INFRA, 50_000_000)
    assert idle.components["EMR transient, hourly"] == 0  # nothing to score starts no cluster
    assert idle.components["VPC interface endpoints"] == pytest.approx(14 * 2 * 730 * 0.01)
    assert all(busy.components[k] >= v for k, v in idle.components.items())
    assert busy.monthly > idle.monthly


def test_the_transient_cluster_beats_a_long_running_one_only_under_per_second_billing() -> None:
    e = cost.estimate(INFRA, 1_000_000)
    transient = e.components["EMR transient, hourly"]
    assert transient < e.alternatives["EMR one long-running cluster instead of transient"]
    assert e.alternatives["EMR transient, hourly, under hourly billing"] > 3 * transient
    assert e.alternatives["EMR transient, daily instead of hourly"] < transient


def test_more_traffic_needs_more_shards_and_scorers() -> None:
    small, large = cost.estimate(INFRA, 1_000_000), cost.estimate(INFRA, 2_000_000_000)
    assert large.assumptions["raw_shards"] > small.assumptions["raw_shards"]
    assert large.assumptions["scorer_instances"] > small.assumptions["scorer_instances"]


def test_deploy_md_quotes_what_the_command_computes() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    idle = cost.idle(INFRA)
    run = cost.estimate(INFRA, 1_000_000)
    assert f"**{idle.monthly:,.0f} USD**" in text
    assert f"**${run.per_hourly_run:.2f}**" in text
    assert f"about {round(run.monthly, -1):,.0f} USD" in text


def test_the_cli_prints_json_a_script_can_read() -> None:
    from tests.harness.cli import run_cli

    result = run_cli("cost", "estimate", "--messages-per-day", "1000000", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["monthly_total"] == pytest.approx(cost.estimate(INFRA, 1_000_000).monthly, abs=0.01)
    bad = run_cli("cost", "estimate", "--messages-per-day", "-5")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_the_stream_identity_is_costed_at_10_and_1000_enterprises_as_by_hand() -> None:
    # GIVEN one batch a second from each enterprise's sensors: 2,592,000 front-door requests a
    # month each (86,400 s x 30 days), a 50 ms Lambda at 256 MB per request
    tenancy = cost.estimate(INFRA, 1_000_000).as_dict()["tenancy"]
    # THEN at 10 enterprises, 25.92 M requests: 25.92 (API, $1.00/M) + 5.184 (Lambda, $0.20/M)
    # + 324,000 GB-s x $0.0000166667 = 5.40; against 10 shards x 730 h x $0.015 = 109.50
    assert tenancy["10 enterprises"] == {cost.FRONTDOOR: 36.50, cost.STREAM_PER_ENTERPRISE: 109.50}
    # and at 1,000, 2,592 M requests: 300 x $1.00 + 2,292 x $0.90 = 2,362.80 (API) + 518.40
    # (Lambda requests) + 32.4 M GB-s = 540.00; against 1,000 shards = 10,950.00
    assert tenancy["1,000 enterprises"] == {cost.FRONTDOOR: 3421.20, cost.STREAM_PER_ENTERPRISE: 10950.00}
    # and the prices come from the cited table: a dearer shard moves only the stream's figure
    prices = {**cost.load_prices(), "kinesis_shard_hour": 0.03}
    assert cost.tenancy(prices, 10)[cost.STREAM_PER_ENTERPRISE] == pytest.approx(219.0)
    assert cost.tenancy(prices, 10)[cost.FRONTDOOR] == pytest.approx(36.504, abs=0.001)


def test_the_cli_shows_the_stream_identity_figures() -> None:
    from tests.harness.cli import run_cli

    result = run_cli("cost", "estimate", "--messages-per-day", "1000000")
    assert result.returncode == 0, result.stderr
    assert "stream identity at 1,000 enterprises" in result.stdout and "10,950.00" in result.stdout
    assert "review API at 50,000 reviewers: API Gateway HTTP API 426.00" in result.stdout


def test_each_stream_stage_is_costed_as_an_asg_and_as_lambda_at_10_100_and_1000_per_second() -> None:
    stages = cost.estimate(INFRA, 1_000_000).as_dict()["stages"]
    assert list(stages) == ["10 msg/s", "100 msg/s", "1,000 msg/s"]
    assert all(set(s) == {"scorer", "stream-importer", "alerter", "indexer"} for s in stages.values())
    # GIVEN dev's Terraform: 2 raw shards, c7g.large scorers of 2 cores, the stream_lambda
    # module's 500-record batches, 1 s window and 1,024 MB (0.579 of a vCPU)
    # THEN at 10 msg/s the scorer's ASG is one c7g.large: 730 h x $0.0725 = 52.93
    scorer = stages["10 msg/s"]["scorer"]
    assert scorer["asg"] == pytest.approx(52.92, abs=0.01)
    # and its function gets 5 records a poll per shard: 5.184 M invocations a month ($1.04), each
    # 40 ms + 5 x 0.5 ms / 0.579 = 44.32 ms at 1 GB: 229,745 GB-s ($3.83)
    assert scorer["lambda"] == pytest.approx(4.87, abs=0.01)
    # and the stream importer shares the SQS importer's hosts: as an ASG it adds nothing
    assert {s["stream-importer"]["asg"] for s in stages.values()} == {0.0}
    # and so does the stream indexer the queue indexer's (dev has a search domain); its function
    # reads the scored stream's 2 shards: at 10 msg/s the importer's batches, at its per-record cost
    assert {s["indexer"]["asg"] for s in stages.values()} == {0.0}
    assert stages["10 msg/s"]["indexer"]["lambda"] == stages["10 msg/s"]["stream-importer"]["lambda"]
    # and the alerter's one t4g.small loses to its function until the traffic is heavy
    assert stages["10 msg/s"]["alerter"]["lambda"] < stages["10 msg/s"]["alerter"]["asg"]
    assert stages["1,000 msg/s"]["alerter"]["lambda"] > stages["1,000 msg/s"]["alerter"]["asg"]


def test_the_search_domain_is_priced_as_the_terraform_deploys_it(tmp_path: Path) -> None:
    # GIVEN the dev root's search domain: 2 x m6g.large.search around the clock, 20 GB gp3 each
    idle = cost.idle(INFRA)
    # THEN 2 x (730 h x $0.128 + 20 GB x $0.122) = 191.76, and one t4g.small indexer beside it
    assert idle.components[cost.SEARCH] == pytest.approx(191.76)
    assert idle.components["indexer ASG"] == pytest.approx(730 * 0.0168)
    # and the local root, which has no domain (its emulator costs nothing), none of either
    local = cost.idle(INFRA, "local")
    assert cost.SEARCH not in local.components and "indexer ASG" not in local.components
    # and a third node in the module is a third more: the figure follows the Terraform
    infra = tmp_path / "infra"
    shutil.copytree(INFRA, infra)
    variables = infra / "modules" / "search" / "variables.tf"
    text = variables.read_text()
    node_count = re.search(r'variable "instance_count" \{.*?default\s+= 2', text, re.S)
    assert node_count
    variables.write_text(text.replace(node_count[0], node_count[0][:-1] + "3"))
    assert cost.idle(infra).components[cost.SEARCH] == pytest.approx(191.76 * 3 / 2)


def test_an_instance_type_without_a_recorded_price_is_one_clear_error_naming_its_pricing_page() -> None:
    # GIVEN the price table, which records one RDS class
    prices = cost.load_prices()
    assert prices["rds_hour"]["db.t4g.medium"] == pytest.approx(0.065)
    # WHEN a root names a class it has no price for THEN the error names the table, the class
    # and the page to read it from, never a KeyError's traceback
    with pytest.raises(UserError, match=r"no rds_hour price for 'db\.x9\.huge'.*rds/postgresql/pricing"):
        prices["rds_hour"]["db.x9.huge"]


def test_the_review_api_is_priced_at_its_stated_usage_and_the_pools_tiers_by_hand() -> None:
    # GIVEN dev's review API: 200 reviewers x 400 requests x 22 working days = 1.76 M requests,
    # each 120 ms of the review module's 512 MB function
    review = cost.estimate(INFRA, 1_000_000).as_dict()["review"]
    # THEN the API is 1.76 ($1.00/M), the function 0.352 + 105,600 GB-s x $0.0000166667 = 2.11,
    # and the pool nothing (the Lite tier's first 10,000 monthly active users are free)
    assert review["200 reviewers"] == {"API Gateway HTTP API": 1.76, "Lambda": 2.11, "Cognito (Lite)": 0.0}
    # and at 50,000: 440 M requests = 300 x $1.00 + 140 x $0.90, 88 + 440 of Lambda, and the pool's
    # 40,000 users past the free 10,000 at $0.0055
    assert review["50,000 reviewers"] == {
        "API Gateway HTTP API": 426.0,
        "Lambda": 528.0,
        "Cognito (Lite)": 220.0,
    }
    # and the pool's tiers are counted each at its own price (10,000 free, then 90,000 at $0.0055,
    # 900,000 at $0.0046, 1 M at $0.00325)
    prices = cost.load_prices()
    assert cost.cognito_lite(prices, 10_000) == 0.0
    assert cost.cognito_lite(prices, 2_000_000) == pytest.approx(495 + 4140 + 3250)
    assert cost.cognito_lite(prices, 20_000_000) == pytest.approx(495 + 4140 + 29250 + 10_000_000 * 0.0025)


def test_the_review_api_costs_only_its_alarms_idle_and_nothing_where_it_is_off() -> None:
    # GIVEN the dev root (review on) idle and busy, and the local root (no review module)
    idle, busy = cost.idle(INFRA), cost.estimate(INFRA, 1_000_000)
    local = cost.estimate(INFRA, 1_000_000, "local")
    # THEN idle it has no reviewers, busy the stated 200, and the local root none at all
    assert idle.components[cost.REVIEW] == 0.0 and idle.assumptions["reviewers"] == 0
    assert busy.components[cost.REVIEW] == pytest.approx(1.76 + 2.112, abs=0.001)
    assert cost.REVIEW not in local.components and local.review == {}
    # and its five alarms are counted with the others (16 + the search domain's 7 + 5, and the dashboard)
    assert idle.components["CloudWatch alarms and dashboard"] == pytest.approx((16 + 7 + 5) * 0.10 + 3.00)
