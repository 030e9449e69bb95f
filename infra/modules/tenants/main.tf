# Each enterprise's identities (issue 32): a sensor role that can write only its own landing prefix
# and post only to the stream front door (which stamps the caller's enterprise on what it puts on
# the raw stream: sensors hold no Kinesis permission), and a consumer role that alone can read its
# action queue and subscribe to its alert topic. Resource policies on the queue and the topic keep
# every other principal of the account out; only the alerters send and publish.
locals {
  account_root = "arn:${data.aws_partition.this.partition}:iam::${data.aws_caller_identity.this.account_id}:root"
  roles = merge(
    { for id, e in var.enterprises : "${id}/sensor" => { enterprise = id, kind = "sensor", principals = e.sensor_principals } },
    { for id, e in var.enterprises : "${id}/consumer" => { enterprise = id, kind = "consumer", principals = e.consumer_principals } },
  )
  queue_read_actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
  topic_read_actions = ["sns:Subscribe"]
}

data "aws_caller_identity" "this" {}

data "aws_partition" "this" {}

data "aws_region" "this" {}

data "aws_iam_policy_document" "assume" {
  for_each = local.roles

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(each.value.principals) > 0 ? each.value.principals : [local.account_root]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name}-${each.value.enterprise}-${each.value.kind}"
  description          = "The ${each.value.kind} identity of enterprise ${each.value.enterprise}."
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = var.max_session_duration

  tags = merge(var.tags, { "trustpipe:enterprise" = each.value.enterprise })
}

# -- sensors -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "sensor" {
  for_each = var.enterprises

  statement {
    sid       = "OwnLandingPrefix"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${var.landing_bucket_arn}/${var.landing_prefix}enterprise=${each.key}/*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      # S3 asks the key for a data key on the sensor's behalf (and to decrypt one during a
      # multipart upload). The landing bucket uses an S3 bucket key, whose encryption context is
      # the bucket: the prefix is held by the statement above.
      sid       = "LandingKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${data.aws_region.this.name}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [var.landing_bucket_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.frontdoor_execution_arn == null ? [] : [1]
    content {
      sid       = "StreamFrontDoor"
      actions   = ["execute-api:Invoke"]
      resources = ["${var.frontdoor_execution_arn}/*/${var.frontdoor_route}"]
    }
  }
}

resource "aws_iam_role_policy" "sensor" {
  for_each = var.enterprises

  name   = "sensor"
  role   = aws_iam_role.this["${each.key}/sensor"].id
  policy = data.aws_iam_policy_document.sensor[each.key].json
}

# -- consumers -----------------------------------------------------------------------------------

data "aws_iam_policy_document" "consumer" {
  for_each = var.enterprises

  statement {
    sid       = "OwnActionQueue"
    actions   = concat(local.queue_read_actions, ["sqs:GetQueueAttributes"])
    resources = [var.action_queue_arns[each.key]]
  }

  statement {
    sid       = "OwnAlertTopic"
    actions   = local.topic_read_actions
    resources = [var.alert_topic_arns[each.key]]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "ActionQueueKey"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${data.aws_region.this.name}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:aws:sqs:arn"
        values   = [var.action_queue_arns[each.key]]
      }
    }
  }
}

resource "aws_iam_role_policy" "consumer" {
  for_each = var.enterprises

  name   = "consumer"
  role   = aws_iam_role.this["${each.key}/consumer"].id
  policy = data.aws_iam_policy_document.consumer[each.key].json
}

# -- resource policies: no other principal of the account reads or writes for an enterprise -------

data "aws_iam_policy_document" "queue" {
  for_each = var.enterprises

  statement {
    sid       = "OnlyItsConsumerReads"
    effect    = "Deny"
    actions   = local.queue_read_actions
    resources = [var.action_queue_arns[each.key]]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.this["${each.key}/consumer"].arn]
    }
  }

  dynamic "statement" {
    for_each = length(var.sender_role_arns) > 0 ? [1] : []
    content {
      sid       = "OnlyTheAlertersSend"
      effect    = "Deny"
      actions   = ["sqs:SendMessage"]
      resources = [var.action_queue_arns[each.key]]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = var.sender_role_arns
      }
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = var.enterprises

  queue_url = var.action_queue_urls[each.key]
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

data "aws_iam_policy_document" "topic" {
  for_each = var.enterprises

  statement {
    sid       = "OnlyItsConsumerSubscribes"
    effect    = "Deny"
    actions   = local.topic_read_actions
    resources = [var.alert_topic_arns[each.key]]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.this["${each.key}/consumer"].arn]
    }
  }

  dynamic "statement" {
    for_each = length(var.sender_role_arns) > 0 ? [1] : []
    content {
      sid       = "OnlyTheAlertersPublish"
      effect    = "Deny"
      actions   = ["sns:Publish"]
      resources = [var.alert_topic_arns[each.key]]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = var.sender_role_arns
      }
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = var.enterprises

  arn    = var.alert_topic_arns[each.key]
  policy = data.aws_iam_policy_document.topic[each.key].json
}
