# One stream stage as a Lambda function on its stream's event source mapping: the same worker code
# as the stage's KCL group (trustpipe_stream.lambda_batch), partial batch responses, bisection,
# bounded retries and record age, an S3 on-failure destination that keeps the discarded batches.
locals {
  function_name = "${var.name}-${var.stage}"
  alarms = {
    iterator-age = {
      description = "The ${var.stage} function's mapping is more than ${var.iterator_age_seconds} s behind its stream: near-real-time verdicts are late."
      metric      = "IteratorAge"
      statistic   = "Maximum"
      threshold   = var.iterator_age_seconds * 1000
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
      runbook     = "stream-lambda-iterator-age"
    }
    errors = {
      description = "The ${var.stage} function's invocations fail whole (every record of a batch failed, or the runtime died): the mapping retries and bisects."
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
      runbook     = "stream-lambda-errors"
    }
    throttles = {
      description = "The ${var.stage} function is throttled: its reserved concurrency is below shards x parallelization factor."
      metric      = "Throttles"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
      runbook     = "stream-lambda-throttles"
    }
    on-failure = {
      description = "The ${var.stage} mapping gave up on records (retries or record age exhausted): they are in the on-failure bucket, not processed."
      metric      = "OnFailureDestinationDeliveredEventCount"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { EventSourceMappingUUID = aws_lambda_event_source_mapping.this.uuid }
      runbook     = "stream-lambda-on-failure"
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# What the mapping does as the function's role (reads the stream, keeps discarded batches), and what
# the function itself does beyond its worker's policy (logs, its settings).
data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.stage_policy_json]

  statement {
    sid       = "MappingReadsStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams", "kinesis:SubscribeToShard"]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "OnFailureDestination"
    actions   = ["s3:PutObject", "s3:ListBucket"]
    resources = [var.on_failure_bucket_arn, "${var.on_failure_bucket_arn}/aws/lambda/*"]
  }

  statement {
    sid       = "FunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "Settings"
    actions   = ["s3:GetObject"]
    resources = [var.settings_object_arn]
  }
}

resource "aws_iam_role" "this" {
  name               = local.function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.stage
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_iam_role_policy_attachment" "vpc" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked synchronously by the event source mapping; its on-failure destination is the mapping's.
  # checkov:skip=CKV_AWS_117: only the stream importer (PostgreSQL) and the indexer (the search domain) need the VPC; subnet_ids puts them there.
  # checkov:skip=CKV_AWS_173: the environment holds an S3 URI, nothing secret.
  # checkov:skip=CKV_AWS_272: the zip is built from the repository by `make lambda`; code signing needs an account-level signing profile this module does not own.
  # checkov:skip=CKV_AWS_50: the workers' EMF metrics and JSON logs cover a batch; X-Ray per batch costs more than it shows.

  function_name    = local.function_name
  role             = aws_iam_role.this.arn
  runtime          = var.lambda_runtime
  handler          = var.handler
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds
  # Shards x parallelization factor at most run at once; the cap keeps a backlog from taking the
  # account's concurrency.
  reserved_concurrent_executions = var.reserved_concurrency
  architectures                  = ["x86_64"]
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      TRUSTPIPE_SETTINGS = var.settings_uri
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  function_name                      = aws_lambda_function.this.arn
  event_source_arn                   = var.stream_arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  parallelization_factor             = var.parallelization_factor
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_seconds
  # The handler answers with the lowest record not done (trustpipe_stream.lambda_batch).
  function_response_types = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = var.on_failure_bucket_arn
    }
  }

  # OnFailureDestinationDeliveredEventCount (the on-failure alarm) is one of these.
  metrics_config {
    metrics = ["EventCount"]
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.function_name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 2
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
