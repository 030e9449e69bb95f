locals {
  buckets = {
    landing = "${var.bucket_prefix}-landing"
    scored  = "${var.bucket_prefix}-scored"
    archive = "${var.bucket_prefix}-archive"
  }
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

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
