locals {
  # raw: sensors -> scorers; scored: scorers -> stream importers; imported: importers -> alerters
  # (a verdict reaches the alerter only once it is stored).
  streams = {
    raw      = var.raw_shard_count
    scored   = var.scored_shard_count
    imported = var.imported_shard_count
  }
}

resource "aws_kinesis_stream" "this" {
  for_each = local.streams

  name             = "${var.name}-${each.key}"
  shard_count      = each.value
  retention_period = var.retention_period_hours
  encryption_type  = var.kms_key_arn == null ? "NONE" : "KMS"
  kms_key_id       = var.kms_key_arn

  stream_mode_details {
    stream_mode = "PROVISIONED"
  }

  tags = var.tags
}

# No lease table here: each consumer group's Kinesis Client Library creates its own three tables
# (`<application>`, `<application>-CoordinatorState`, `<application>-WorkerMetricStats`); the
# workers module grants exactly the actions to do so on exactly those names.

# Firehose archives the raw stream into the data lake (the NRT path's record of what arrived),
# in hourly prefixes beside the landing layout.
data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "firehose" {
  count = var.create_archive ? 1 : 0

  statement {
    sid       = "ReadRawStream"
    actions   = ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.this["raw"].arn]
  }

  statement {
    sid       = "WriteArchive"
    actions   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"]
    resources = [var.archive_bucket_arn, "${var.archive_bucket_arn}/${var.archive_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role" "firehose" {
  count = var.create_archive ? 1 : 0

  name               = "${var.name}-raw-archive"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "firehose" {
  count = var.create_archive ? 1 : 0

  name   = "archive-raw-stream"
  role   = aws_iam_role.firehose[0].id
  policy = data.aws_iam_policy_document.firehose[0].json
}

resource "aws_kinesis_firehose_delivery_stream" "archive" {
  count = var.create_archive ? 1 : 0
  # checkov:skip=CKV_AWS_240: a Kinesis-sourced delivery stream cannot take server-side encryption; the source stream and the destination bucket are both encrypted with the pipeline's key.
  # checkov:skip=CKV_AWS_241: same as above (the CMK variant of the check).

  name        = "${var.name}-raw-archive"
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.this["raw"].arn
    role_arn           = aws_iam_role.firehose[0].arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose[0].arn
    bucket_arn          = var.archive_bucket_arn
    prefix              = "${var.archive_prefix}date=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    error_output_prefix = "${var.archive_prefix}errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
    buffering_size      = 64
    buffering_interval  = 300
    compression_format  = "GZIP"
    kms_key_arn         = var.kms_key_arn
  }

  tags = var.tags
}
