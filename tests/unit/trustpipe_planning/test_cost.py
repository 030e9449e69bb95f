"""The cost model: dated prices, the deployed topology, and the figures docs/deploy.md quotes."""

from __future__ import annotations

import json
import re

import pytest

from tests.harness.paths import ROOT
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
    assert idle.components["VPC interface endpoints"] == pytest.approx(13 * 2 * 730 * 0.01)
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
