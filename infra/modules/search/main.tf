# The search and aggregation store (slide 70): an Amazon OpenSearch Service domain in the VPC's
# private subnets, reached on 443 only from its clients' security groups. Encrypted at rest with
# the pipeline's key and between nodes, HTTPS only (TLS 1.2+), fine-grained access control with
# an IAM master role (no internal users). The domain's access policy names who may send requests
# at all; fine-grained access control's role mappings say what each may do inside it.
data "aws_region" "this" {}

data "aws_caller_identity" "this" {}

locals {
  account_id = data.aws_caller_identity.this.account_id
  # Known before the domain exists, so the access policy can name it inline.
  domain_arn = "arn:aws:es:${data.aws_region.this.name}:${local.account_id}:domain/${var.name}"
  # The documented request actions (es:ESHttp*), split by what a role may do.
  read_actions  = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"] # a search is a POST
  write_actions = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]
  # The index slow log and the error log for troubleshooting; the audit log (fine-grained access
  # control's, with its default categories) for who did what inside the domain.
  logs = {
    INDEX_SLOW_LOGS     = "index-slow"
    ES_APPLICATION_LOGS = "error"
    AUDIT_LOGS          = "audit"
  }
  # MiB, as FreeStorageSpace is reported per node.
  free_storage_threshold_mib = floor(var.volume_size_gb * 1024 * var.free_storage_fraction)
  ism_policy_id              = "${var.index_prefix}-retention"
  # Inside the domain, fine-grained access control maps IAM roles to its own roles: the indexer
  # writes the daily indices, their alias and template; the readers search them. With the ISM
  # retention policy, these are the requests the master role sends once after the first apply
  # (PUT <url>/<path> with the body; docs/deploy.md), kept here as data beside the domain.
  setup_requests = [
    {
      path = "_plugins/_ism/policies/${local.ism_policy_id}"
      body = templatefile("${path.module}/ism_policy.json.tftpl", { index_prefix = var.index_prefix, retention_days = var.retention_days })
    },
    {
      path = "_plugins/_security/api/roles/trustpipe_indexer"
      body = jsonencode({
        cluster_permissions = ["cluster_monitor", "cluster_composite_ops", "indices:admin/index_template/*", "indices:admin/template/*"]
        index_permissions = [{
          index_patterns = ["${var.index_prefix}*"]
          # indices:admin/mapping/put: ensure_template puts new fields (the review decision) on
          # daily indices made before them
          allowed_actions = ["crud", "create_index", "manage_aliases", "indices_monitor", "indices:admin/mapping/put"]
        }]
      })
    },
    {
      path = "_plugins/_security/api/rolesmapping/trustpipe_indexer"
      body = jsonencode({ backend_roles = var.writer_role_arns })
    },
    {
      path = "_plugins/_security/api/roles/trustpipe_reader"
      body = jsonencode({
        cluster_permissions = ["cluster_monitor"]
        index_permissions   = [{ index_patterns = ["${var.index_prefix}*"], allowed_actions = ["read", "indices_monitor"] }]
      })
    },
    {
      path = "_plugins/_security/api/rolesmapping/trustpipe_reader"
      body = jsonencode({ backend_roles = var.reader_role_arns })
    },
    {
      # The review API: searches, and updates a decided message's document (POST _update), no
      # more: it never creates or deletes an index or a document.
      path = "_plugins/_security/api/roles/trustpipe_reviewer"
      body = jsonencode({
        cluster_permissions = ["cluster_monitor"]
        index_permissions   = [{ index_patterns = ["${var.index_prefix}*"], allowed_actions = ["read", "indices_monitor", "indices:data/write/update"] }]
      })
    },
    {
      path = "_plugins/_security/api/rolesmapping/trustpipe_reviewer"
      body = jsonencode({ backend_roles = var.reviewer_role_arns })
    },
  ]
}

# -- who may ask: the master role, the writers, the readers ---------------------------------------

data "aws_iam_policy_document" "admin_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = concat(["arn:aws:iam::${local.account_id}:root"], var.admin_principal_arns)
    }
  }
}

# Fine-grained access control's master user: all_access inside the domain. It applies the index
# template, the ISM policy and the role mappings of the writers and readers; nothing runs as it.
resource "aws_iam_role" "admin" {
  name               = "${var.name}-search-admin"
  assume_role_policy = data.aws_iam_policy_document.admin_trust.json

  tags = var.tags
}

data "aws_iam_policy_document" "admin" {
  statement {
    sid       = "Domain"
    actions   = local.write_actions
    resources = [local.domain_arn, "${local.domain_arn}/*"]
  }
}

resource "aws_iam_role_policy" "admin" {
  name   = "search-admin"
  role   = aws_iam_role.admin.id
  policy = data.aws_iam_policy_document.admin.json
}

data "aws_iam_policy_document" "access" {
  statement {
    sid       = "Write"
    actions   = local.write_actions
    resources = ["${local.domain_arn}/*"]
    principals {
      type        = "AWS"
      identifiers = concat([aws_iam_role.admin.arn], var.writer_role_arns)
    }
  }

  # The readers and the review API (which updates documents with a POST, as it searches).
  dynamic "statement" {
    for_each = length(concat(var.reader_role_arns, var.reviewer_role_arns)) > 0 ? [1] : []
    content {
      sid       = "Read"
      actions   = local.read_actions
      resources = ["${local.domain_arn}/*"]
      principals {
        type        = "AWS"
        identifiers = concat(var.reader_role_arns, var.reviewer_role_arns)
      }
    }
  }
}

# -- network -------------------------------------------------------------------------------------

# (Its description predates the review API, which it admits too: a new one would replace the group.)
resource "aws_security_group" "this" {
  name        = "${var.name}-search"
  description = "OpenSearch: HTTPS from the indexer and the Airflow host only"
  vpc_id      = var.vpc_id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "HTTPS from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 443
  to_port                      = 443
  ip_protocol                  = "tcp"

  tags = var.tags
}

# -- logs ----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.logs

  name              = "/aws/opensearch/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# OpenSearch Service writes the logs itself: the log groups' resource policy lets it, for this
# domain only (a CloudWatch Logs resource policy is per account and region, hence the name).
data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.this : "${g.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.domain_arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name     = "${var.name}-search-logs"
  policy_document = data.aws_iam_policy_document.logs.json
}

# -- the domain ----------------------------------------------------------------------------------

resource "aws_opensearch_domain" "this" {
  # checkov:skip=CKV2_AWS_59: no dedicated master nodes on the smallest sensible domain (two data nodes); add three with dedicated_master_* when the domain grows past a few nodes.
  # checkov:skip=CKV_AWS_318: no dedicated master nodes on the smallest sensible domain (two data nodes, 2 x the price otherwise); add three with dedicated_master_* when the domain grows past a few nodes.
  domain_name     = var.name
  engine_version  = var.engine_version
  access_policies = data.aws_iam_policy_document.access.json

  cluster_config {
    instance_type          = var.instance_type
    instance_count         = var.instance_count
    zone_awareness_enabled = var.instance_count > 1

    dynamic "zone_awareness_config" {
      for_each = var.instance_count > 1 ? [1] : []
      content {
        availability_zone_count = var.instance_count
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.volume_size_gb
  }

  vpc_options {
    subnet_ids         = slice(var.subnet_ids, 0, var.instance_count)
    security_group_ids = [aws_security_group.this.id]
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = var.kms_key_arn
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-PFS-2023-10"
  }

  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = false
    master_user_options {
      master_user_arn = aws_iam_role.admin.arn
    }
  }

  log_publishing_options {
    log_type                 = "INDEX_SLOW_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.this["INDEX_SLOW_LOGS"].arn
  }

  log_publishing_options {
    log_type                 = "ES_APPLICATION_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.this["ES_APPLICATION_LOGS"].arn
  }

  log_publishing_options {
    log_type                 = "AUDIT_LOGS"
    enabled                  = true
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.this["AUDIT_LOGS"].arn
  }

  software_update_options {
    auto_software_update_enabled = true
  }

  timeouts {
    create = var.create_timeout
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}

# -- alarms (AWS's recommended ones for a domain, AWS/ES namespace) -------------------------------

locals {
  alarms = {
    cluster-red = {
      description = "The search domain's cluster is red: at least one primary shard is unassigned; searches miss documents and indexing into its index fails."
      metric      = "ClusterStatus.red"
      statistic   = "Maximum"
      threshold   = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      period      = 60
      periods     = 1
      datapoints  = 1
      runbook     = "search-cluster-health"
    }
    cluster-yellow = {
      description = "The search domain's cluster has been yellow for 5 minutes: a replica shard is unassigned; one more node lost loses data."
      metric      = "ClusterStatus.yellow"
      statistic   = "Maximum"
      threshold   = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      period      = 60
      periods     = 5
      datapoints  = 5
      runbook     = "search-cluster-health"
    }
    free-storage = {
      description = "A search node is down to ${local.free_storage_threshold_mib} MiB free (${var.free_storage_fraction * 100} % of its volume): at the flood-stage watermark the domain blocks writes."
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      threshold   = local.free_storage_threshold_mib
      comparison  = "LessThanOrEqualToThreshold"
      period      = 60
      periods     = 1
      datapoints  = 1
      runbook     = "search-storage"
    }
    writes-blocked = {
      description = "The search domain is blocking writes (ClusterIndexWritesBlocked): the indexer's bulk requests are refused."
      metric      = "ClusterIndexWritesBlocked"
      statistic   = "Maximum"
      threshold   = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      period      = 300
      periods     = 1
      datapoints  = 1
      runbook     = "search-storage"
    }
    jvm-pressure = {
      description = "A search node's JVM memory pressure has been at ${var.jvm_memory_pressure_threshold} % or more for 3 minutes: out-of-memory errors and refused requests follow."
      metric      = "JVMMemoryPressure"
      statistic   = "Maximum"
      threshold   = var.jvm_memory_pressure_threshold
      comparison  = "GreaterThanOrEqualToThreshold"
      period      = 60
      periods     = 3
      datapoints  = 3
      runbook     = "search-jvm-pressure"
    }
    write-rejected = {
      description = "The search domain rejected bulk writes (ThreadpoolWriteRejected) in 3 of the last 5 minutes: the indexer retries them, but it is falling behind."
      metric      = "ThreadpoolWriteRejected"
      statistic   = "Sum"
      threshold   = 0
      comparison  = "GreaterThanThreshold"
      period      = 60
      periods     = 5
      datapoints  = 3
      runbook     = "search-indexing-errors"
    }
    "5xx" = {
      description = "The search domain answered 5xx in 3 of the last 5 minutes: indexing and searches fail."
      metric      = "5xx"
      statistic   = "Sum"
      threshold   = 0
      comparison  = "GreaterThanThreshold"
      period      = 60
      periods     = 5
      datapoints  = 3
      runbook     = "search-indexing-errors"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-search-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"
  namespace           = "AWS/ES"
  metric_name         = each.value.metric
  dimensions          = { DomainName = aws_opensearch_domain.this.domain_name, ClientId = local.account_id }
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.datapoints
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
