locals {
  streams = {
    raw    = var.raw_shard_count
    scored = var.scored_shard_count
  }
}

resource "aws_kinesis_stream" "this" {
  for_each = local.streams

  name             = "${var.name}-${each.key}"
  shard_count      = each.value
  retention_period = var.retention_period_hours
  encryption_type  = var.kms_key_id == null ? "NONE" : "KMS"
  kms_key_id       = var.kms_key_id

  stream_mode_details {
    stream_mode = "PROVISIONED"
  }

  tags = var.tags
}

# Stream consumers keep their shard leases and checkpoints here (KCL's model: one item per shard
# with a lease counter that fences out a worker whose lease was taken over).
resource "aws_dynamodb_table" "leases" {
  name         = "${var.name}-stream-leases"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "lease_key"

  attribute {
    name = "lease_key"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}
