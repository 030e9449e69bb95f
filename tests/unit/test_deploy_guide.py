"""docs/deploy.md is the whole deploy: a state bucket, `make deploy`, a confirmed e-mail, and what
it costs. No step edits a file on a host, copies a secret or does by hand what the apply does."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).parents[2] / "docs" / "deploy.md"
HAND_STEPS = {
    "a file written on a host": r"/etc/trustpipe|\bsudo\b|\bvi\b|\bnano\b",
    "a secret read by hand": r"get-secret-value|\bpassword\s*=",
    "code copied by hand": r"aws s3 (cp|sync)",
    "Airflow configured by hand": r"airflow (variables|connections|dags unpause)",
    "a migration by hand": r"trustpipe db upgrade",
}


def test_the_guide_has_the_four_parts_and_the_cost() -> None:
    headings = re.findall(r"^## (.+)$", GUIDE.read_text(), re.M)
    assert headings[:4] == [
        "What you need",
        "1. The state bucket (once per account)",
        "2. Deploy",
        "3. Confirm the e-mail subscription",
    ]
    assert headings[4].startswith("What it costs")
    # then what each part of the first deploy rehearsed here, and what only AWS can show
    assert all(h.startswith("Day one on AWS: ") for h in headings[5:]), headings[5:]
    assert "make deploy ENV=dev" in GUIDE.read_text()


def test_no_step_is_a_hand_step() -> None:
    blocks = "\n".join(re.findall(r"```(?:bash)?\n(.*?)```", GUIDE.read_text(), re.S))
    for what, pattern in HAND_STEPS.items():
        assert not re.search(pattern, blocks), what
