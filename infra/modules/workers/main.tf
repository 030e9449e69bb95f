# The worker fleet: one launch template + ASG per service (scorer, importer, alerter, and the
# indexer where there is a search domain), all from the baked worker AMI (packer/worker.pkr.hcl).
# Each service has its own instance profile with only the actions and resources it uses.
locals {
  all_services = {
    scorer = {
      instance_type = var.instance_types["scorer"]
      # One scorer process per core, one shard per process: enough instances to cover every shard.
      min     = ceil(var.raw_shard_count / var.scorer_cores_per_instance)
      max     = ceil(var.raw_shard_count / var.scorer_cores_per_instance)
      desired = ceil(var.raw_shard_count / var.scorer_cores_per_instance)
    }
    importer = {
      instance_type = var.instance_types["importer"]
      min           = var.importer_min_size
      max           = var.importer_max_size
      desired       = var.importer_min_size
    }
    alerter = {
      instance_type = var.instance_types["alerter"]
      min           = var.alerter_count
      max           = var.alerter_count
      desired       = var.alerter_count
    }
    indexer = {
      instance_type = lookup(var.instance_types, "indexer", "t4g.small")
      min           = var.indexer_count
      max           = var.indexer_count
      desired       = var.indexer_count
    }
  }
  services = { for k, v in local.all_services : k => v if k != "indexer" || var.enable_indexer }
  # The services that run on hosts: a stage switched to its Lambda form (var.stage_forms) has no
  # group; the importer and indexer hosts stay for their queue workers (the SQS importer, the
  # queue indexer), without the stream unit when the stream worker is a function.
  queue_hosts = ["importer", "indexer"]
  hosted = {
    for service, v in local.services : service => v
    if contains(local.queue_hosts, service) || lookup(var.stage_forms, service, "asg") == "asg"
  }
  policies = merge(
    {
      scorer   = data.aws_iam_policy_document.scorer.json
      importer = data.aws_iam_policy_document.importer.json
      alerter  = data.aws_iam_policy_document.alerter.json
    },
    { for d in data.aws_iam_policy_document.indexer : "indexer" => d.json },
  )
  # Each service is one Kinesis Client Library consumer group on the stream it reads; the KCL
  # names its application `<stream>-<service>` (trustpipe_stream.daemon.consumer) and creates three
  # tables after it on first start.
  consumes = {
    scorer   = var.raw_stream_arn
    importer = var.scored_stream_arn
    alerter  = var.imported_stream_arn
    indexer  = var.scored_stream_arn
  }
  kcl_application = { for service, arn in local.consumes : service => "${element(split("/", arn), 1)}-${service}" }
  kcl_table_arn   = { for service, app in local.kcl_application : service => "arn:aws:dynamodb:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:table/${app}" }
  # The actions the KCL documents for its consumers (kcl-iam-permissions): the lease table with
  # its owner index, the coordinator-state and worker-metrics tables, the stream, and metrics.
  kcl_lease_table_actions = ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan"]
  kcl_state_table_actions = ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan"]
  # The schema each service registers for what it writes (register is idempotent: same schema,
  # same id); every service reads schemas by id (the indexer writes no Avro: it registers none).
  registers = {
    scorer   = "scored-message-value"
    importer = "scored-message-value"
    alerter  = "action-value"
  }
  # The documented request actions on an OpenSearch domain's paths (es:ESHttp*).
  search_write_actions = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]
  # The PostgreSQL role each service logs in as (migration 0008; trustpipe.db.roles): only the
  # importers touch the database, so only their security group and instance role reach it.
  database_users          = { importer = "trustpipe_importer" }
  kcl_stream_read_actions = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:RegisterStreamConsumer", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]
}

data "aws_region" "this" {}

data "aws_caller_identity" "this" {}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.services

  name              = "/trustpipe/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# -- permissions -------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# What every service does: write its logs and metrics, use the pipeline's key.
data "aws_iam_policy_document" "common" {
  for_each = local.services

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      # the services' own, and the KCL's (it publishes under its application's name)
      values = ["trustpipe/workers", local.kcl_application[each.key]]
    }
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "Model"
    actions   = ["s3:GetObject"]
    resources = ["${var.archive_bucket_arn}/models/*"]
  }

  statement {
    sid       = "Drain"
    actions   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    resources = ["arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${var.name}-${each.key}"]
  }

  statement {
    sid       = "ReadStream"
    actions   = local.kcl_stream_read_actions
    resources = [local.consumes[each.key]]
  }

  statement {
    sid       = "LeaseTable"
    actions   = local.kcl_lease_table_actions
    resources = [local.kcl_table_arn[each.key]]
  }

  statement {
    sid       = "LeaseOwnerIndex"
    actions   = ["dynamodb:Query"]
    resources = ["${local.kcl_table_arn[each.key]}/index/*"]
  }

  statement {
    sid       = "CoordinatorAndWorkerMetricsTables"
    actions   = local.kcl_state_table_actions
    resources = ["${local.kcl_table_arn[each.key]}-CoordinatorState", "${local.kcl_table_arn[each.key]}-WorkerMetricStats"]
  }

  statement {
    sid       = "SetAside"
    actions   = ["s3:PutObject"]
    resources = ["${var.archive_bucket_arn}/set_aside/stream/${each.key}/*"]
  }

  dynamic "statement" {
    for_each = var.registry_api_execution_arn == null ? [] : [1]
    content {
      sid     = "Registry"
      actions = ["execute-api:Invoke"]
      resources = concat(
        ["${var.registry_api_execution_arn}/*/GET/*"],
        [for subject in compact([lookup(local.registers, each.key, "")]) : "${var.registry_api_execution_arn}/*/POST/subjects/${subject}/versions"],
      )
    }
  }
}

data "aws_iam_policy_document" "scorer" {
  source_policy_documents = [data.aws_iam_policy_document.common["scorer"].json]

  statement {
    sid       = "WriteScored"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.scored_stream_arn]
  }
}

data "aws_iam_policy_document" "importer" {
  source_policy_documents = [data.aws_iam_policy_document.common["importer"].json]

  statement {
    sid       = "Queue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [var.importer_queue_arn]
  }

  statement {
    sid       = "ScoredObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.scored_bucket_arn}/scored/*"]
  }

  statement {
    sid       = "WriteImported"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.imported_stream_arn]
  }

  # The one-shot migration unit on this host runs as the master user (the only reader of its
  # secret); the importers themselves log in with IAM tokens as their own role.
  dynamic "statement" {
    for_each = var.database_secret_arn == null ? [] : [1]
    content {
      sid       = "MigrationCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.database_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = var.database_resource_id == null ? [] : [1]
    content {
      sid       = "DatabaseLogin"
      actions   = ["rds-db:connect"]
      resources = ["arn:aws:rds-db:${data.aws_region.this.name}:${data.aws_caller_identity.this.account_id}:dbuser:${var.database_resource_id}/${local.database_users["importer"]}"]
    }
  }
}

data "aws_iam_policy_document" "alerter" {
  source_policy_documents = [data.aws_iam_policy_document.common["alerter"].json]

  statement {
    sid       = "Actions"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = var.action_queue_arns
  }

  statement {
    sid       = "Alerts"
    actions   = ["sns:Publish"]
    resources = var.alert_topic_arns
  }

  statement {
    sid       = "IssuedActions"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.actions_table_arn]
  }
}

# The indexer: both paths into the search domain (the scored stream through the KCL, the scored
# objects announced on its queue), and the domain itself.
data "aws_iam_policy_document" "indexer" {
  count = var.enable_indexer ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["indexer"].json]

  statement {
    sid       = "Search"
    actions   = local.search_write_actions
    resources = ["${var.search_domain_arn}/*"]
  }

  # The settings name where the domain's URL is published, not the URL (the domain is made after
  # these hosts' roles).
  statement {
    sid       = "SearchUrl"
    actions   = ["ssm:GetParameter"]
    resources = [var.search_url_parameter_arn]
  }

  statement {
    sid       = "ScoredObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.scored_bucket_arn}/scored/*"]
  }

  dynamic "statement" {
    for_each = var.search_admin_role_arn == null ? [] : [1]
    content {
      sid       = "SearchSetup"
      actions   = ["sts:AssumeRole"]
      resources = [var.search_admin_role_arn]
    }
  }

  dynamic "statement" {
    for_each = var.search_queue_arn == null ? [] : [1]
    content {
      sid       = "Queue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = [var.search_queue_arn]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.hosted

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = local.hosted

  name   = each.key
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}

# Session Manager instead of SSH: no key pairs, no open ports.
resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = local.hosted

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  for_each = local.hosted

  name = "${var.name}-${each.key}"
  role = aws_iam_role.this[each.key].name

  tags = var.tags
}

# -- instances ---------------------------------------------------------------------------------

# One group per service, so the database can admit the services that use it and no other.
resource "aws_security_group" "this" {
  for_each = local.hosted

  name        = "${var.name}-${each.key}"
  description = "trustpipe ${each.key}: no inbound; HTTPS to the VPC endpoints${each.key == "indexer" ? " and the search domain" : ""}${contains(keys(local.database_users), each.key) ? " and PostgreSQL inside the VPC" : ""}"
  vpc_id      = var.vpc_id

  egress {
    description = "AWS APIs through the VPC endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description     = "S3 and DynamoDB through their gateway endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = var.gateway_prefix_list_ids
  }

  dynamic "egress" {
    for_each = contains(keys(local.database_users), each.key) ? [1] : []
    content {
      description = "PostgreSQL"
      from_port   = 5432
      to_port     = 5432
      protocol    = "tcp"
      cidr_blocks = [var.vpc_cidr]
    }
  }

  tags = merge(var.tags, { "trustpipe:service" = each.key })
}

resource "aws_launch_template" "this" {
  for_each = local.hosted

  name_prefix   = "${var.name}-${each.key}-"
  image_id      = var.ami_id
  instance_type = each.value.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.this[each.key].arn
  }

  vpc_security_group_ids = [aws_security_group.this[each.key].id]

  # IMDSv2 only, and not reachable from containers or forwarded traffic.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 20
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }

  monitoring {
    enabled = true
  }

  # The AMI has the services installed but not enabled: boot writes the settings and starts this one.
  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    service         = each.key
    settings_json   = var.settings_json
    log_group       = aws_cloudwatch_log_group.this[each.key].name
    stream_importer = lookup(var.stage_forms, "stream-importer", "asg") == "asg"
    stream_indexer  = lookup(var.stage_forms, "indexer", "asg") == "asg"
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-${each.key}", "trustpipe:service" = each.key })
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  for_each = local.hosted

  name                      = "${var.name}-${each.key}"
  min_size                  = each.value.min
  max_size                  = each.value.max
  desired_capacity          = each.value.desired
  vpc_zone_identifier       = var.subnet_ids
  health_check_type         = "EC2"
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  # A terminating worker first drains (stops taking work, finishes what it holds), then completes
  # the lifecycle action; the heartbeat is the longest a drain may take.
  initial_lifecycle_hook {
    name                 = "drain"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    heartbeat_timeout    = var.drain_seconds
    default_result       = "CONTINUE"
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Name = "${var.name}-${each.key}" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}

# -- the talk's queue-based scaling of importers -----------------------------------------------
# Scale out while messages wait (visible > 0); scale in only when the queue is idle: nothing
# visible and nothing in flight, so an importer is never removed while it still holds a message.

resource "aws_autoscaling_policy" "importer_out" {
  name                   = "${var.name}-importer-out"
  autoscaling_group_name = aws_autoscaling_group.this["importer"].name
  policy_type            = "SimpleScaling"
  adjustment_type        = "ChangeInCapacity"
  scaling_adjustment     = var.importer_scale_out_step
  cooldown               = var.importer_scaling_cooldown_seconds
}

resource "aws_autoscaling_policy" "importer_in" {
  name                   = "${var.name}-importer-in"
  autoscaling_group_name = aws_autoscaling_group.this["importer"].name
  policy_type            = "SimpleScaling"
  adjustment_type        = "ChangeInCapacity"
  scaling_adjustment     = -1
  cooldown               = var.importer_scaling_cooldown_seconds
}

resource "aws_cloudwatch_metric_alarm" "importer_backlog" {
  alarm_name          = "${var.name}-importer-backlog"
  alarm_description   = "Scaling signal (not a page): importer messages are waiting; add importers."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.importer_queue_name }
  statistic           = "Maximum"
  period              = var.importer_scaling_period_seconds
  evaluation_periods  = var.importer_scale_out_periods
  threshold           = var.importer_scale_out_visible_threshold
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_autoscaling_policy.importer_out.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "importer_idle" {
  alarm_name          = "${var.name}-importer-idle"
  alarm_description   = "Scaling signal (not a page): the importer queue is idle (visible + in flight = 0); remove an importer."
  evaluation_periods  = var.importer_scale_in_periods
  threshold           = 0
  comparison_operator = "LessThanOrEqualToThreshold"
  alarm_actions       = [aws_autoscaling_policy.importer_in.arn]

  metric_query {
    id          = "busy"
    expression  = "visible + in_flight"
    label       = "messages visible or in flight"
    return_data = true
  }

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.importer_queue_name }
      stat        = "Maximum"
      period      = var.importer_scaling_period_seconds
    }
  }

  metric_query {
    id = "in_flight"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = var.importer_queue_name }
      stat        = "Maximum"
      period      = var.importer_scaling_period_seconds
    }
  }

  tags = var.tags
}
