"""The alerter on fakes: one action per QUARANTINE/LABEL message (the pair of enterprise and
message id) however often it is delivered, none for PASS_THROUGH, one alert per enterprise per
batch, bad records set aside; queue ids SQS takes whatever a message id holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness.alerter import AlerterOnFakes
from tests.harness.fakes import FakeSqs, deliver, valid_sqs_id
from trustpipe import contracts
from trustpipe.codec import FramedEncoder
from trustpipe.transient import is_transient
from trustpipe_alerter.channels import (
    ActionNotSentError,
    ActionQueues,
    ActionRefusedError,
    dedup_id,
    group_id,
)
from trustpipe_alerter.worker import MARK_ATTEMPTS, to_action
from trustpipe_stream.processor import StreamRecord

SCORED = contracts.load(contracts.SCORED_MESSAGE)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
QUEUES = {"acme": "q-acme", "globex": "q-globex"}


class Setup(AlerterOnFakes):
    """The alerter on fakes, serving ``QUEUES``' enterprises at ``NOW``."""

    def __init__(self) -> None:
        super().__init__(QUEUES, NOW)


def verdict(n: int, verdict: str, enterprise: str = "acme", message_id: str = "") -> dict[str, Any]:
    return {
        "message_id": message_id or f"<m{n}@x>",
        "enterprise_id": enterprise,
        "received_at": NOW - timedelta(seconds=5),
        "scored_at": NOW,
        "from_address": "a@b.com",
        "from_display_name": "A",
        "from_domain": "b.com",
        "reply_to": None,
        "sending_ip": "192.0.2.1",
        "score": 0.97,
        "verdict": verdict,
        "reasons": ["lookalike_domain", "spf_fail"],
        "model_version": "m1",
        "source": "STREAM",
        "source_ref": "s:1",
        "sensor_schema_version": 2,
    }


def records(*verdicts: dict[str, Any]) -> list[StreamRecord]:
    encoder = FramedEncoder(7, SCORED)
    return [
        StreamRecord(encoder.encode(v), v["message_id"], str(n), 0, 0, "shardId-0")
        for n, v in enumerate(verdicts)
    ]


def test_quarantine_and_label_become_one_action_each_and_pass_through_none() -> None:
    setup = Setup()
    batch = records(verdict(1, "QUARANTINE"), verdict(2, "LABEL", "globex"), verdict(3, "PASS_THROUGH"))
    assert setup.run(batch) == []
    assert [(a["message_id"], a["action"]) for a in setup.sent] == [
        ("<m1@x>", "QUARANTINE"),
        ("<m2@x>", "LABEL"),
    ]
    assert setup.sent[1]["label_text"] and "lookalike_domain" in setup.sent[1]["label_text"]
    assert setup.sent[0]["label_text"] is None and setup.sent[0]["action_id"] == "acme/<m1@x>/m1/0"
    # one alert per enterprise for the batch
    assert sorted(setup.alerts) == [("acme", ["<m1@x>"]), ("globex", ["<m2@x>"])]
    assert set(setup.ledger.items.values()) == {"sent"}


def test_a_redelivered_batch_and_a_second_path_act_once() -> None:
    setup = Setup()
    batch = records(verdict(1, "QUARANTINE"), verdict(2, "LABEL"))
    setup.run(batch)
    # WHEN the same records come again (redelivery), and message 1 arrives from the other path
    # with a newer model, and twice within one batch
    rescored = {**verdict(1, "QUARANTINE"), "model_version": "m2"}
    setup.run([*batch, *records(rescored, rescored)])
    # THEN nothing more was sent or alerted
    assert len(setup.sent) == 2 and len(setup.alerts) == 1
    assert setup.worker.counts["repeats"] == 4


def test_one_message_id_at_two_enterprises_acts_at_both_each_on_its_own_queue() -> None:
    # GIVEN one campaign's Message-ID stored as QUARANTINE at acme and at globex, in one batch
    setup = Setup()
    both = records(verdict(1, "QUARANTINE", "acme"), verdict(1, "QUARANTINE", "globex"))
    # WHEN the alerter processes it
    assert setup.run(both) == []
    # THEN each enterprise gets its own action, on its own queue, with its own ids
    assert [(a["enterprise_id"], a["action_id"]) for a in setup.sent] == [
        ("acme", "acme/<m1@x>/m1/0"),
        ("globex", "globex/<m1@x>/m1/0"),
    ]
    sent = setup.on_queues()
    assert [url for url, _ in sent] == ["q-acme", "q-globex"]
    assert (
        len({e["MessageGroupId"] for _, e in sent})
        == len({e["MessageDeduplicationId"] for _, e in sent})
        == 2
    )
    # and two claims in the ledger, both marked sent, and each enterprise's users alerted
    assert setup.ledger.claims == ["acme/<m1@x>", "globex/<m1@x>"]
    assert setup.ledger.items == {"acme/<m1@x>": "sent", "globex/<m1@x>": "sent"}
    assert sorted(setup.alerts) == [("acme", ["<m1@x>"]), ("globex", ["<m1@x>"])]


def test_a_redelivered_batch_of_one_message_id_at_two_enterprises_acts_once_per_pair() -> None:
    # GIVEN the pair's batch was processed, each copy twice in it
    setup = Setup()
    batch = records(*[verdict(1, "LABEL", e) for e in ("acme", "globex", "acme", "globex")])
    setup.run(batch)
    # WHEN the batch comes again (a restart before the checkpoint)
    setup.run(batch)
    # THEN one action went out per enterprise, no more
    assert sorted(a["enterprise_id"] for a in setup.sent) == ["acme", "globex"]
    assert len(setup.on_queues()) == 2 and setup.worker.counts["repeats"] == 6


@pytest.mark.parametrize(
    "message_id",
    [
        "<a b c@x>",
        "<nul\x00inside@x>",
        "<" + "x" * 300 + "@x>",
        "<Ünïcødé-メール-\U0001f4e7@例え.jp>",
        "\t\r\n",
        "acme/<m1@x>",
    ],
    ids=["spaces", "nul", "300-chars", "non-ascii", "control-only", "separator"],
)
def test_a_hostile_message_id_still_gets_queue_ids_sqs_takes(message_id: str) -> None:
    # GIVEN a verdict whose (sender-chosen) Message-ID SQS would refuse as a group id as it is
    setup = Setup()
    # WHEN it is acted on at both enterprises
    assert setup.run(records(*[verdict(1, "QUARANTINE", e, message_id) for e in QUEUES])) == []
    # THEN both actions were taken by the queue, each with valid, distinct ids, and the message id
    # itself unchanged in the action
    sent = setup.on_queues()
    assert len(sent) == 2
    assert all(
        valid_sqs_id(e["MessageGroupId"]) and valid_sqs_id(e["MessageDeduplicationId"]) for _, e in sent
    )
    assert len({e["MessageGroupId"] for _, e in sent}) == 2
    assert [a["message_id"] for a in setup.sent] == [message_id, message_id]
    assert {group_id(a) for a in setup.sent} == {e["MessageGroupId"] for _, e in sent}


def test_a_rollbacks_other_action_is_sent_under_its_promotion_and_the_same_action_is_not() -> None:
    # GIVEN message 1 quarantined and message 2 labelled by the model of promotion 2, both sent
    setup = Setup()
    regressed = {"model_version": "v2", "model_promotion": 2}
    setup.run(records({**verdict(1, "QUARANTINE"), **regressed}, {**verdict(2, "LABEL"), **regressed}))
    # WHEN a rollback promotes v1 again (promotion 3), which labels message 1 and labels message 2
    # too, and a late copy of the regressed verdict comes after it in the same batch
    rolled = {"model_version": "v1", "model_promotion": 3}
    setup.run(
        records(
            {**verdict(1, "LABEL"), **rolled},
            {**verdict(1, "QUARANTINE"), **regressed},
            {**verdict(2, "LABEL"), **rolled},
        )
    )
    # THEN message 1's new action goes out under its own id, message 2's unchanged one does not
    assert [(a["action_id"], a["action"], a["model_promotion"]) for a in setup.sent] == [
        ("acme/<m1@x>/v2/2", "QUARANTINE", 2),
        ("acme/<m2@x>/v2/2", "LABEL", 2),
        ("acme/<m1@x>/v1/3", "LABEL", 3),
    ]
    assert len({e["MessageDeduplicationId"] for _, e in setup.on_queues()}) == 3
    assert setup.ledger.items == {"acme/<m1@x>": "sent", "acme/<m2@x>": "sent"}


def test_a_claim_left_pending_by_a_crash_is_sent_again_with_the_same_action_id() -> None:
    # GIVEN an alerter died after claiming message 1 but before marking it sent
    setup = Setup()
    setup.ledger.items["acme/<m1@x>"] = "pending"
    # WHEN the record is redelivered
    setup.run(records(verdict(1, "QUARANTINE")))
    # THEN it is sent (the queue and the mail system dedupe by action id) and marked sent
    assert [a["action_id"] for a in setup.sent] == ["acme/<m1@x>/m1/0"]
    assert setup.ledger.items["acme/<m1@x>"] == "sent"


def test_bad_records_and_unknown_enterprises_are_set_aside_and_the_rest_proceed() -> None:
    setup = Setup()
    good = records(verdict(1, "QUARANTINE"))[0]
    stranger = records(verdict(2, "QUARANTINE", "umbrella"))[0]
    bad = StreamRecord(b"\x01nope", "k", "9", 0, 0, "shardId-0")
    rejected = setup.run([bad, stranger, good])
    assert [r.reason.split(":")[0] for r in rejected] == ["BadMagicByteError", "UnknownEnterpriseError"]
    assert [a["message_id"] for a in setup.sent] == ["<m1@x>"]
    assert len(setup.aside) == 2


def test_an_action_fits_its_contract() -> None:
    import io

    import fastavro

    action = to_action(verdict(1, "LABEL"), NOW)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(contracts.load(contracts.ACTION)), action)
    assert buf.tell() > 0


def test_actions_go_ten_to_a_call_to_their_own_enterprises_queue_and_a_refusal_fails_the_batch() -> None:
    actions = [to_action(verdict(n, "QUARANTINE", "acme" if n < 23 else "globex"), NOW) for n in range(25)]
    sqs = FakeSqs()
    ActionQueues(
        sqs, {"acme": "q-acme", "globex": "q-globex"}, FramedEncoder(3, contracts.load(contracts.ACTION))
    ).send(actions)
    assert [(url, len(entries)) for url, entries in sqs.calls] == [
        ("q-acme", 10),
        ("q-acme", 10),
        ("q-acme", 3),
        ("q-globex", 2),
    ]
    first = sqs.calls[0][1][0]
    assert (
        first["MessageDeduplicationId"] == dedup_id("acme/<m0@x>/m1/0")
        and len(first["MessageDeduplicationId"]) <= 128
    )
    refusing = ActionQueues(
        FakeSqs(refuse=True), {"acme": "q"}, FramedEncoder(3, contracts.load(contracts.ACTION))
    )
    with pytest.raises(ActionNotSentError, match="InternalError") as failed:
        refusing.send(actions[:1])
    assert is_transient(failed.value)  # the queue's fault: the batch is sent again


def test_an_action_the_queue_refuses_as_the_senders_fault_is_not_transient() -> None:
    # GIVEN a queue that refuses an entry as the sender's fault (SenderFault: true)
    refusing = ActionQueues(
        FakeSqs(refuse=True, code="InvalidParameterValue"),
        {"acme": "q"},
        FramedEncoder(3, contracts.load(contracts.ACTION)),
    )
    # WHEN the action is sent, THEN the error says it will never be taken: the processor splits
    # the batch down to its record and sets that aside, instead of retrying it for ever
    with pytest.raises(ActionRefusedError, match="InvalidParameterValue") as refused:
        refusing.send([to_action(verdict(1, "QUARANTINE"), NOW)])
    assert not is_transient(refused.value)


def test_a_failed_mark_is_retried_in_place_without_sending_again() -> None:
    # GIVEN a ledger that fails to mark twice (the actions table throttled after the send)
    setup = Setup()
    fails = [throttled(), throttled()]
    mark = setup.ledger.mark_sent

    def flaky(message_ids: Sequence[str]) -> None:
        if fails:
            raise fails.pop()
        mark(message_ids)

    setup.ledger.mark_sent = flaky  # type: ignore[method-assign]
    waits: list[float] = []
    setup.worker.sleep = waits.append
    # WHEN a batch is processed
    setup.run(records(verdict(1, "QUARANTINE"), verdict(2, "LABEL")))
    # THEN each action went out once, and both are marked sent after two waits
    assert [a["message_id"] for a in setup.sent] == ["<m1@x>", "<m2@x>"]
    assert len(waits) == 2 and set(setup.ledger.items.values()) == {"sent"}


def test_a_mark_that_keeps_failing_fails_the_batch() -> None:
    setup = Setup()
    tries: list[int] = []

    def broken(message_ids: Sequence[str]) -> None:
        tries.append(1)
        raise throttled()

    setup.ledger.mark_sent = broken  # type: ignore[method-assign]
    setup.worker.sleep = lambda _s: None
    with pytest.raises(ClientError, match="ThrottlingException"):
        setup.run(records(verdict(1, "QUARANTINE")))
    assert len(tries) == MARK_ATTEMPTS


def test_a_mark_refused_for_the_records_own_reason_is_not_retried_in_place() -> None:
    # GIVEN a ledger that refuses the mark for a reason of the input (not transient)
    setup = Setup()
    tries: list[int] = []

    def refused(message_ids: Sequence[str]) -> None:
        tries.append(1)
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad key"}}, "UpdateItem")

    setup.ledger.mark_sent = refused  # type: ignore[method-assign]
    # WHEN a batch is processed, THEN the error escapes at once, for the processor to split the batch
    with pytest.raises(ClientError, match="ValidationException"):
        setup.run(records(verdict(1, "QUARANTINE")))
    assert len(tries) == 1


def throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")


def test_a_verdict_the_ledger_refuses_is_set_aside_and_the_rest_acted_on_once_each() -> None:
    # GIVEN an actions table that refuses one message's claim for a reason of its own (not
    # transient), among five good QUARANTINE verdicts of one batch
    setup = Setup()
    claim = setup.ledger._claim

    def refusing(key: str) -> str:
        if "refused" in key:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "no"}}, "PutItem")
        return claim(key)

    setup.ledger._claim = refusing  # type: ignore[method-assign]
    good = [verdict(n, "QUARANTINE") for n in range(5)]
    batch = records(*good[:3], verdict(9, "QUARANTINE", message_id="<refused@x>"), *good[3:])
    # WHEN the shard processor hands the batch to the alerter
    checkpointer = deliver(setup.worker, batch)
    # THEN that verdict alone is set aside with the table's answer
    assert [x.record.partition_key for x in setup.aside] == ["<refused@x>"]
    assert setup.aside[0].reason.startswith("ClientError: An error occurred (ValidationException)")
    # and each good message has one action id on the queue (a half sent again repeats the same
    # id, which the FIFO queue drops), each claimed and marked sent
    on_queue = {e["MessageDeduplicationId"] for _, e in setup.on_queues()}
    assert on_queue == {dedup_id(f"acme/<m{n}@x>/m1/0") for n in range(5)}
    assert setup.ledger.items == {f"acme/<m{n}@x>": "sent" for n in range(5)}
    assert checkpointer.at == ["5"]
