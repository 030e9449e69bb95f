resource "aws_sns_topic" "this" {
  name              = "${var.name}-scored-objects"
  kms_master_key_id = var.kms_key_id

  tags = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AllowBucketEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = var.publisher_bucket_arns
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-importer-dlq"
  message_retention_seconds = var.message_retention_seconds
  kms_master_key_id         = var.kms_key_id
  sqs_managed_sse_enabled   = var.kms_key_id == null ? true : null

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = "${var.name}-importer"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  max_message_size           = var.max_message_size
  receive_wait_time_seconds  = 20
  kms_master_key_id          = var.kms_key_id
  sqs_managed_sse_enabled    = var.kms_key_id == null ? true : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "AllowTopic"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue.json
}

resource "aws_sns_topic_subscription" "this" {
  topic_arn = aws_sns_topic.this.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.this.arn

  depends_on = [aws_sqs_queue_policy.this]
}

# The search indexer's own subscription to the same topic (slide 70): every scored object reaches
# the importers and the indexer alike, each with its own queue, redelivery and DLQ.
resource "aws_sqs_queue" "search_dlq" {
  name                      = "${var.name}-indexer-dlq"
  message_retention_seconds = var.message_retention_seconds
  kms_master_key_id         = var.kms_key_id
  sqs_managed_sse_enabled   = var.kms_key_id == null ? true : null

  tags = var.tags
}

resource "aws_sqs_queue" "search" {
  name                       = "${var.name}-indexer"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  max_message_size           = var.max_message_size
  receive_wait_time_seconds  = 20
  kms_master_key_id          = var.kms_key_id
  sqs_managed_sse_enabled    = var.kms_key_id == null ? true : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.search_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

data "aws_iam_policy_document" "search_queue" {
  statement {
    sid       = "AllowTopic"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.search.arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "search" {
  queue_url = aws_sqs_queue.search.id
  policy    = data.aws_iam_policy_document.search_queue.json
}

resource "aws_sns_topic_subscription" "search" {
  topic_arn = aws_sns_topic.this.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.search.arn

  depends_on = [aws_sqs_queue_policy.search]
}
