# The on-call topic every alarm and every failed DAG task publishes to, and the pipeline's alarms.
resource "aws_sns_topic" "oncall" {
  name              = "${var.name}-oncall"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.oncall.arn
  protocol  = "email"
  endpoint  = each.value
}

# The hourly DAG puts HourlyOutputDelaySeconds when an hour is verified, and its Deadline Alert
# puts it when the hour is late; a missing datapoint means no hour was verified at all.
resource "aws_cloudwatch_metric_alarm" "hourly_deadline" {
  alarm_name          = "${var.name}-hourly-deadline"
  alarm_description   = "An hour's scored output was not verified within ${var.hourly_due_seconds / 60} minutes of the hour closing. Runbook: ${var.runbook_base_url}/hourly-deadline-missed.md"
  namespace           = "trustpipe/pipeline"
  metric_name         = "HourlyOutputDelaySeconds"
  dimensions          = { Dag = var.hourly_dag_id }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.hourly_due_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# The hourly DAG's find_late_hours puts LateLandingObjects every run (0 when none were found): a
# sensor's upload that landed after its hour was scored. That run scores the hour again; the alarm
# tells on-call it happened, so a sensor that keeps uploading late is seen.
resource "aws_cloudwatch_metric_alarm" "late_landing" {
  alarm_name          = "${var.name}-late-landing"
  alarm_description   = "Landing objects arrived after their hour was scored; the hourly DAG scored those hours again. Runbook: ${var.runbook_base_url}/late-landing.md"
  namespace           = "trustpipe/pipeline"
  metric_name         = "LateLandingObjects"
  dimensions          = { Dag = var.hourly_dag_id }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# The hourly DAG's reconcile_search puts SearchDrift every run: the search index's documents for
# the hour against the store's rows, summed over enterprises (0 when they agree). A drift that is
# still there an hour later means the indexer lost or refused documents (slide 70's index is
# rebuilt from the lake: `trustpipe search reindex`).
resource "aws_cloudwatch_metric_alarm" "search_drift" {
  alarm_name          = "${var.name}-search-drift"
  alarm_description   = "The search index and the store disagree on an hour's messages. Runbook: ${var.runbook_base_url}/search-drift.md"
  namespace           = "trustpipe/pipeline"
  metric_name         = "SearchDrift"
  dimensions          = { Dag = var.hourly_dag_id }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

locals {
  queue_alarms = {
    importer-dlq = {
      description = "Importer messages were dead-lettered: scored objects that could not be imported after retries."
      metric      = "ApproximateNumberOfMessagesVisible"
      queue       = var.importer_dlq_name
      threshold   = 0
      statistic   = "Maximum"
    }
    importer-queue-age = {
      description = "The oldest importer message waited longer than ${var.importer_max_age_seconds} s: importers are behind or failing."
      metric      = "ApproximateAgeOfOldestMessage"
      queue       = var.importer_queue_name
      threshold   = var.importer_max_age_seconds
      statistic   = "Maximum"
    }
  }
  stream_alarms = { for stream in var.stream_names : "iterator-age-${stream}" => stream }
}

resource "aws_cloudwatch_metric_alarm" "queue" {
  for_each = var.importer_queue_name == null ? {} : merge(local.queue_alarms, var.search_dlq_name == null ? {} : {
    indexer-dlq = {
      description = "Indexer messages were dead-lettered: scored objects the search indexer could not index after retries."
      metric      = "ApproximateNumberOfMessagesVisible"
      queue       = var.search_dlq_name
      threshold   = 0
      statistic   = "Maximum"
    }
  })

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.key}.md"
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  for_each = local.stream_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Consumers of ${each.value} are more than ${var.iterator_age_seconds} s behind the stream's tip: near-real-time verdicts are late. Runbook: ${var.runbook_base_url}/kinesis-iterator-age.md"
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.iterator_age_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# Every metric named here is one the code emits: trustpipe.metrics names them all, and a test
# holds this module (as applied) and that catalog equal.

# Workers publish Processed, Errors, LagSeconds and Heartbeat (EMF, namespace trustpipe/workers,
# dimension Service). A worker that died publishes nothing: its error rate has no data and cannot
# page, so the silence of its heartbeat does ("missing" counts as breaching).
resource "aws_cloudwatch_metric_alarm" "worker_silent" {
  for_each = toset(var.worker_services)

  alarm_name          = "${var.name}-${each.value}-silent"
  alarm_description   = "No ${each.value} has sent a heartbeat in ${var.worker_silent_minutes} of the last 5 minutes: none is running, or all are stuck. Runbook: ${var.runbook_base_url}/worker-silent.md"
  namespace           = "trustpipe/workers"
  metric_name         = "Heartbeat"
  dimensions          = { Service = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = var.worker_silent_minutes
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# The scorer reads the model's counters from Redis per batch and scores with the model's frozen
# snapshot when Redis does not answer: degraded, never stopped, and this says so.
resource "aws_cloudwatch_metric_alarm" "counters_degraded" {
  count = contains(var.worker_services, "scorer") ? 1 : 0

  alarm_name          = "${var.name}-scorer-counters-degraded"
  alarm_description   = "The scorer scored messages with the model's frozen snapshot in 3 of the last 5 minutes: its counters' Redis did not answer. Runbook: ${var.runbook_base_url}/counters-degraded.md"
  namespace           = "trustpipe/workers"
  metric_name         = "CountersDegraded"
  dimensions          = { Service = "scorer" }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# The nightly drift check of the counters: the worst relative difference between a sampled
# online tile and the store's exact count (a HyperLogLog errs by about 1%).
resource "aws_cloudwatch_metric_alarm" "counters_drift" {
  alarm_name          = "${var.name}-model-build-nightly-counters-drift"
  alarm_description   = "A sampled online counter of yesterday differs from the store's exact count by more than ${var.counters_drift_ratio * 100}%. Runbook: ${var.runbook_base_url}/counters-drift.md"
  namespace           = "trustpipe/pipeline"
  metric_name         = "CountersDrift"
  dimensions          = { Dag = var.model_dag_id }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.counters_drift_ratio
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "worker_errors" {
  for_each = toset(var.worker_services)

  alarm_name          = "${var.name}-${each.value}-error-rate"
  alarm_description   = "More than ${var.worker_error_rate * 100}% of the ${each.value}'s records failed. Runbook: ${var.runbook_base_url}/worker-error-rate.md"
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.worker_error_rate
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  metric_query {
    id          = "rate"
    expression  = "errors / MAX([processed + errors, 1])"
    label       = "${each.value} error rate"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "trustpipe/workers"
      metric_name = "Errors"
      dimensions  = { Service = each.value }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "processed"
    metric {
      namespace   = "trustpipe/workers"
      metric_name = "Processed"
      dimensions  = { Service = each.value }
      stat        = "Sum"
      period      = 60
    }
  }

  tags = var.tags
}

locals {
  database_alarms = var.db_instance_id == null ? {} : {
    rds-storage = {
      description = "Free storage below ${var.db_min_free_storage_gb} GiB: PostgreSQL stops accepting writes when it runs out."
      metric      = "FreeStorageSpace"
      threshold   = var.db_min_free_storage_gb * 1024 * 1024 * 1024
      operator    = "LessThanThreshold"
      statistic   = "Minimum"
    }
    rds-cpu = {
      description = "Database CPU above ${var.db_max_cpu_percent}%: imports and the web app slow down."
      metric      = "CPUUtilization"
      threshold   = var.db_max_cpu_percent
      operator    = "GreaterThanThreshold"
      statistic   = "Average"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "database" {
  for_each = local.database_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.key}.md"
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 3
  threshold           = each.value.threshold
  comparison_operator = each.value.operator
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}

# The pipeline on one screen: the hourly batch, the workers, the queues and streams, the registry,
# the model. Rows of 6 units; each widget's metrics are emitted by the code (trustpipe.metrics) or
# by AWS (AWS/*).
locals {
  region   = data.aws_region.this.name
  hourly   = ["trustpipe/pipeline", "HourlyOutputDelaySeconds", "Dag", var.hourly_dag_id]
  verdicts = "SEARCH('{trustpipe/pipeline,Dag,Enterprise,Verdict} MetricName=\"Verdicts\" Dag=\"${var.hourly_dag_id}\"', 'Sum', 3600)"
  widgets = [
    {
      title   = "Hourly batch: delay of verified output (s)", stat = "Maximum", period = 3600
      metrics = [local.hourly], annotations = { horizontal = [{ label = "due", value = var.hourly_due_seconds }] }
    },
    {
      title   = "Hourly batch: records in, out; objects set aside", stat = "Sum", period = 3600
      metrics = [for m in ["RecordsIn", "RecordsOut", "ObjectsSetAside"] : ["trustpipe/pipeline", m, "Dag", var.hourly_dag_id]]
    },
    {
      title   = "Hourly batch: late landing objects found, and the latest's minutes after its hour", stat = "Maximum", period = 3600
      metrics = [for m in ["LateLandingObjects", "LateLandingMinutes"] : ["trustpipe/pipeline", m, "Dag", var.hourly_dag_id]]
    },
    {
      title   = "Hourly batch: verdicts per enterprise", stat = "Sum", period = 3600, stacked = true
      metrics = [[{ expression = local.verdicts, id = "verdicts", label = "" }]]
    },
    {
      title   = "Workers: records processed and failed", stat = "Sum", period = 60
      metrics = concat([], [for s in var.worker_services : [["trustpipe/workers", "Processed", "Service", s], ["trustpipe/workers", "Errors", "Service", s]]]...)
    },
    {
      title   = "Workers: lag behind their input (s)", stat = "Maximum", period = 60
      metrics = [for s in var.worker_services : ["trustpipe/workers", "LagSeconds", "Service", s]]
    },
    {
      title   = "Workers: heartbeats a minute (0: none running)", stat = "Sum", period = 60
      metrics = [for s in var.worker_services : ["trustpipe/workers", "Heartbeat", "Service", s]]
    },
    {
      title = "Importer queue: waiting, in flight, dead-lettered", stat = "Maximum", period = 60
      metrics = var.importer_queue_name == null ? [] : [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.importer_queue_name],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.importer_queue_name],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.importer_dlq_name],
      ]
    },
    {
      title   = "Streams: records in, consumer lag (ms)", stat = "Sum", period = 60
      metrics = concat([], [for s in var.stream_names : [["AWS/Kinesis", "IncomingRecords", "StreamName", s], ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", s, { stat = "Maximum", yAxis = "right" }]]]...)
    },
    {
      title   = "Schema registry: requests by status", stat = "Sum", period = 60
      metrics = [for status in ["2xx", "4xx", "5xx"] : ["trustpipe/registry", "Requests", "Service", var.registry_service, "Status", status]]
    },
    {
      title   = "Schema registry: latency (ms)", period = 60
      metrics = [for stat in ["p50", "p99"] : ["trustpipe/registry", "LatencyMs", "Service", var.registry_service, { stat = stat }]]
    },
    {
      title   = "Model: holdout AUC, candidate and current", stat = "Maximum", period = 86400
      metrics = [for model in ["candidate", "current"] : ["trustpipe/pipeline", "HoldoutAuc", "Dag", var.model_dag_id, "Model", model]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [for i, w in local.widgets : {
      type       = "metric", x = (i % 2) * 12, y = floor(i / 2) * 6, width = 12, height = 6
      properties = merge({ region = local.region, view = "timeSeries" }, w)
    }]
  })
}

data "aws_region" "this" {}
