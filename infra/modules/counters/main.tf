# The model's counters (trustpipe.counters): an ElastiCache replication group in the private
# subnets, a replica in a second AZ with automatic failover, encrypted at rest and in transit.
# Clients authenticate as one RBAC user with IAM (a SigV4 token per connection, as the workers
# sign every AWS call): no password exists, in state or anywhere. The default user is disabled.
locals {
  user_name = "${var.name}-counters"
  # What the counters send (trustpipe.counters), on the counters' keys only.
  access_string = "on ~tp:* resetchannels -@all +ping +hello +auth +get +set +hmget +hset +expireat +pfadd +pfcount +scan"
  # Per-node metrics: the group's members are named <group>-001, -002...
  nodes = [for i in range(var.node_count) : format("%s-%03d", var.name, i + 1)]
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-counters"
  description = "Redis (TLS) from the scorers, the Airflow host and the batch job only"
  vpc_id      = var.vpc_id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "Redis from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = var.port
  to_port                      = var.port
  ip_protocol                  = "tcp"

  tags = var.tags
}

resource "aws_elasticache_user" "default" {
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = "redis"
  access_string = "off -@all"

  authentication_mode {
    type = "no-password-required"
  }

  tags = var.tags
}

resource "aws_elasticache_user" "this" {
  # IAM authentication requires the user's id and name to be the same.
  user_id       = local.user_name
  user_name     = local.user_name
  engine        = "redis"
  access_string = local.access_string

  authentication_mode {
    type = "iam"
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = var.name
  engine        = "redis"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.this.user_id]

  tags = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "trustpipe's model counters"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = var.port

  num_cache_clusters         = var.node_count
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  # The tiles are rebuilt each night: a day of snapshots is enough to restart from.
  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true
  apply_immediately          = false

  tags = var.tags
}

data "aws_iam_policy_document" "connect" {
  statement {
    sid       = "ConnectAsTheCountersUser"
    actions   = ["elasticache:Connect"]
    resources = [aws_elasticache_replication_group.this.arn, aws_elasticache_user.this.arn]
  }
}

resource "aws_iam_role_policy" "connect" {
  for_each = var.client_role_names

  name   = "${var.name}-counters-connect"
  role   = each.value
  policy = data.aws_iam_policy_document.connect.json
}

# Alarms, each with its runbook section (docs/runbooks/counters-cache.md).
resource "aws_cloudwatch_metric_alarm" "memory" {
  for_each = toset(local.nodes)

  alarm_name          = "${each.value}-memory"
  alarm_description   = "Redis node ${each.value} uses over ${var.memory_percent}% of its memory: evictions come next (its section: memory). Runbook: ${var.runbook_base_url}/counters-cache.md"
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.memory_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "evictions" {
  for_each = toset(local.nodes)

  alarm_name          = "${each.value}-evictions"
  alarm_description   = "Redis node ${each.value} evicted keys: tiles were lost before their time (its section: evictions). Runbook: ${var.runbook_base_url}/counters-cache.md"
  namespace           = "AWS/ElastiCache"
  metric_name         = "Evictions"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "replication_lag" {
  for_each = toset(slice(local.nodes, 1, length(local.nodes)))

  alarm_name          = "${each.value}-replication-lag"
  alarm_description   = "Replica ${each.value} is over ${var.replication_lag_seconds} s behind its primary: a failover now would lose the latest writes (its section: replication-lag). Runbook: ${var.runbook_base_url}/counters-cache.md"
  namespace           = "AWS/ElastiCache"
  metric_name         = "ReplicationLag"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.replication_lag_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  for_each = toset(local.nodes)

  alarm_name          = "${each.value}-latency"
  alarm_description   = "Redis node ${each.value} takes over ${var.latency_microseconds} us a read: the scorers' round trips near their timeout (its section: latency). Runbook: ${var.runbook_base_url}/counters-cache.md"
  namespace           = "AWS/ElastiCache"
  metric_name         = "SuccessfulReadRequestLatency"
  dimensions          = { CacheClusterId = each.value }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.latency_microseconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
