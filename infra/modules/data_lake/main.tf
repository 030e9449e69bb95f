locals {
  buckets = {
    landing = "${var.bucket_prefix}-landing"
    scored  = "${var.bucket_prefix}-scored"
    archive = "${var.bucket_prefix}-archive"
  }
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets
  # checkov:skip=CKV_AWS_144: cross-region replication is a disaster-recovery choice per deployment; the archive's contents are re-creatable from sensors' retention, and replication doubles storage cost.
  # checkov:skip=CKV2_AWS_62: only the scored bucket's events drive anything (the importers); notifications on landing and archive would have no consumer.
  # checkov:skip=CKV_AWS_18: server access logs go to the account's log bucket when var.access_log_bucket names one (aws_s3_bucket_logging.this); the module does not create a log bucket of its own.
  # checkov:skip=CKV2_AWS_6: checkov does not link for_each companions to each bucket; aws_s3_bucket_public_access_block.this blocks every bucket (tests/integration/trustpipe_local/test_local_stack checks it on the applied stack).
  # checkov:skip=CKV2_AWS_61: same for_each limitation; aws_s3_bucket_lifecycle_configuration.this covers every bucket.
  # checkov:skip=CKV_AWS_145: same for_each limitation; aws_s3_bucket_server_side_encryption_configuration.this uses SSE-KMS whenever kms_key_arn is set (every cloud root sets it).
  # checkov:skip=CKV_AWS_21: same for_each limitation; aws_s3_bucket_versioning.this enables versioning on every bucket.

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = merge(var.tags, { "trustpipe:bucket-role" = each.key })
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

# Only TLS; and only SSE-KMS with this module's key when one is set (no unencrypted uploads).
data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = var.enforce_tls ? aws_s3_bucket.this : {}

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# What each bucket keeps and for how long (days are variables): landing files are re-scorable for
# landing_days; scored output is rebuilt by re-scoring, so old versions go fast; the archive (raw
# stream, ground truth, models) moves to cheaper storage and stays.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  rule {
    id     = "age-out"
    status = "Enabled"
    filter {}

    transition {
      days          = var.infrequent_access_after_days
      storage_class = "STANDARD_IA"
    }

    dynamic "transition" {
      for_each = each.key == "archive" ? [1] : []
      content {
        days          = var.archive_glacier_after_days
        storage_class = "GLACIER_IR"
      }
    }

    dynamic "expiration" {
      for_each = each.key == "archive" ? [] : [1]
      content {
        days = each.key == "landing" ? var.landing_days : var.scored_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  for_each = var.access_log_bucket == null ? {} : aws_s3_bucket.this

  bucket        = each.value.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${each.value.id}/"
}

resource "aws_s3_bucket_notification" "scored" {
  count = var.create_scored_notification ? 1 : 0

  bucket = aws_s3_bucket.this["scored"].id

  topic {
    topic_arn     = var.scored_notification_topic_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.scored_notification_prefix
    filter_suffix = var.scored_notification_suffix
  }
}
