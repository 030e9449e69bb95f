"""`trustpipe chaos`: the whole pipeline under faults, then reconciled.

Batch hours (landing -> Spark -> S3 event -> SNS -> SQS -> batch importer) and a stream run
(raw stream -> scorer -> scored stream -> stream importer -> imported stream -> alerter) go
through the local stack together while a schedule drawn from the seed

- SIGKILLs each worker type (scorer, stream importer, alerter, batch importer) with its whole
  process tree (its KCL daemon and processors), as a dying host would; a supervisor restarts it
  after the units' ``RestartSec``, as systemd does;
- restarts PostgreSQL (fast shutdown, a pause, the same port), and the counters' redis-server
  when the stack serves them (stopped by its pid, a pause, the same port, empty: the scorer
  scores with the model's snapshot meanwhile, counted as ``counters_degraded``, and until the
  next build writes the tiles again);
- injects AWS faults through a proxy in front of the moto server (``fault_proxy``): throttling,
  5xx, slow responses and dropped connections on Kinesis, DynamoDB, SQS and S3. The workers (their
  boto3 clients and the KCL's Java SDK) are pointed at the proxy, so the faults reach the code
  paths real AWS faults reach: the SDKs' own error parsing and retries, then the pipeline's.

The sensors, the Spark job (EMR's failures are the DAG's to retry, tested apart) and the
reconciliation talk to the moto server directly. At the end every produced message must be
stored exactly once, every QUARANTINE or LABEL verdict must have exactly one action on its
enterprise's queue, and every item set aside must carry its reason. The schedule, the data and
the proxy's draws come from the seed, so a run can be repeated; only the interleaving with the
machine's timing differs.
"""

from trustpipe_scenarios.chaos.figures import lease_picture, print_figures, worker_log_tails
from trustpipe_scenarios.chaos.plan import (
    FAULTED_SERVICES,
    HISTORY_HOURS,
    MAX_BATCH_HOURS,
    WORKERS,
    Plan,
    chaos_dir,
    plan,
)
from trustpipe_scenarios.chaos.run import SeedAlreadyRunError, run

__all__ = [
    "FAULTED_SERVICES",
    "HISTORY_HOURS",
    "MAX_BATCH_HOURS",
    "WORKERS",
    "Plan",
    "SeedAlreadyRunError",
    "chaos_dir",
    "lease_picture",
    "plan",
    "print_figures",
    "run",
    "worker_log_tails",
]
