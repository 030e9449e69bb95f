# One customer-managed key for the pipeline's data at rest: buckets, queues, topics, streams, logs.
# AWS services that write encrypted data on the pipeline's behalf (S3 events into SNS, SNS into
# SQS, CloudWatch alarms into SNS, Firehose into S3, CloudWatch Logs) are granted its use.
data "aws_caller_identity" "this" {}

data "aws_region" "this" {}

data "aws_iam_policy_document" "this" {
  # checkov:skip=CKV_AWS_109: a key policy must let the account administer its key (kms:* to the account root), or the key becomes unmanageable.
  # checkov:skip=CKV_AWS_111: same: the account-root statement of a key policy; access is then granted by IAM policies.
  # checkov:skip=CKV_AWS_356: in a key policy the resource "*" means this key only.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.this.account_id}:root"]
    }
  }

  statement {
    sid       = "ServicesEncryptForThePipeline"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"] # in a key policy "*" is this key
    principals {
      type = "Service"
      identifiers = [
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "sqs.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "firehose.amazonaws.com",
        "logs.${data.aws_region.this.name}.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.this.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: pipeline data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
