"""Choosing the stream stages that run as Lambda functions locally (the chaos run's
``--lambda-stage``, P4's Lambda form) and the process that runs one."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustpipe.errors import UserError
from trustpipe.workers import ALERTER, SCORER
from trustpipe_emulation import lambda_poller
from trustpipe_scenarios import lambda_stages


def test_stages_are_chosen_by_name_in_the_paths_order_and_an_unknown_one_is_refused() -> None:
    assert lambda_stages.chosen(["alerter", "scorer"]) == (SCORER, ALERTER)
    with pytest.raises(
        UserError, match="no stream stage importer: choose from scorer, stream-importer, alerter"
    ):
        lambda_stages.chosen(["importer"])


def test_the_stage_runs_as_its_mappings_poller_with_its_handler_and_stream(tmp_path: Path) -> None:
    argv = lambda_stages.command(ALERTER, tmp_path / "a.zip", tmp_path / "s.json", tmp_path / "state")
    assert argv[1:3] == ["-m", "trustpipe_emulation.lambda_poller"]
    args = lambda_poller.parser().parse_args(argv[3:])  # the poller's own parser takes it
    assert args.handler == "trustpipe_alerter.lambda_handler.handler"
    assert (args.stream, args.name, args.zip) == ("imported_stream_name", "alerter", str(tmp_path / "a.zip"))
