# What the alerters act through, per enterprise (slides 32, 68-70): a FIFO action queue the
# enterprise's mail system consumes (quarantine or label one message; deduplicated by action id),
# an SNS topic that tells the enterprise's users, and one table of the actions issued, keyed by
# the pair (enterprise, message id) as `action_key` (trustpipe.tenants.message_key: Message-IDs
# collide across enterprises), that makes "one action per message" hold across redeliveries and
# restarts. Who may read a queue or topic is the tenants module's.

resource "aws_sqs_queue" "actions" {
  for_each = var.enterprises

  name                        = "${var.name}-actions-${each.key}.fifo"
  fifo_queue                  = true
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  message_retention_seconds   = var.message_retention_seconds
  visibility_timeout_seconds  = 60
  kms_master_key_id           = var.kms_key_arn
  sqs_managed_sse_enabled     = var.kms_key_arn == null ? true : null
  content_based_deduplication = false

  tags = var.tags
}

resource "aws_sns_topic" "alerts" {
  for_each = var.enterprises

  name              = "${var.name}-alerts-${each.key}"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

resource "aws_dynamodb_table" "this" {
  name         = "${var.name}-actions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "action_key"

  attribute {
    name = "action_key"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
