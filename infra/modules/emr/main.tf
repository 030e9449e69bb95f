# What the hourly DAG's transient clusters need; the clusters themselves are created per run by
# Airflow (EmrCreateJobFlowOperator) and terminated by it.
data "aws_caller_identity" "this" {}

module "logs" {
  source = "../private_bucket"

  name                    = "${var.bucket_prefix}-emr-logs"
  kms_key_arn             = var.kms_key_arn
  expiration_days         = var.log_days
  noncurrent_version_days = 7
  enforce_tls             = var.enforce_tls
  force_destroy           = var.force_destroy

  tags = var.tags
}

# -- roles -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "service_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["elasticmapreduce.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.this.account_id]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${var.name}-emr-service"
  assume_role_policy = data.aws_iam_policy_document.service_assume.json

  tags = var.tags
}

# AWS's managed policy for EMR's service role (v2 scopes EC2 actions to resources tagged for EMR).
resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
}

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# The cluster's nodes run the scoring job: read landing, write scored (and its _work/ prefix),
# set aside unreadable objects (set_aside/), read the model, the code and the hour's ground truth
# (added to the counters once the hour is scored).
data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ReadLanding"
    actions   = ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"]
    resources = [var.landing_bucket_arn, "${var.landing_bucket_arn}/*"]
  }

  statement {
    sid       = "WriteScored"
    actions   = ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"]
    resources = [var.scored_bucket_arn, "${var.scored_bucket_arn}/*"]
  }

  statement {
    sid     = "ReadModelsCodeAndLabels"
    actions = ["s3:GetObject", "s3:ListBucket"]
    resources = [
      var.archive_bucket_arn,
      "${var.archive_bucket_arn}/models/*",
      "${var.archive_bucket_arn}/code/*",
      "${var.archive_bucket_arn}/ground_truth/*",
    ]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["s3:PutObject"]
    resources = ["${module.logs.arn}/*"]
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-emr-instance"
  assume_role_policy = data.aws_iam_policy_document.instance_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "instance" {
  name   = "scoring-job"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-emr-instance"
  role = aws_iam_role.instance.name

  tags = var.tags
}

# Every cluster Airflow creates names this configuration (the hourly DAG's emr.security_configuration):
# encryption at rest (EMRFS to S3 with the pipeline's key, local disks), off by default on EMR, and
# IMDSv2 only on every node (a token for each metadata request; a hop limit of 1 keeps the
# instance role's credentials from anything a hop further away than the node's own processes).
resource "aws_emr_security_configuration" "this" {
  # checkov:skip=CKV_AWS_351: in-transit encryption needs a TLS certificate provider (a PEM bundle or custom provider) per account; cluster nodes sit in private subnets with no inbound rule, and their S3 traffic is TLS.
  name = "${var.name}-emr"

  configuration = jsonencode({
    EncryptionConfiguration = {
      EnableInTransitEncryption = false
      EnableAtRestEncryption    = true
      AtRestEncryptionConfiguration = {
        S3EncryptionConfiguration = {
          EncryptionMode = "SSE-KMS"
          AwsKmsKey      = var.kms_key_arn
        }
        LocalDiskEncryptionConfiguration = {
          EncryptionKeyProviderType = "AwsKms"
          AwsKmsKey                 = var.kms_key_arn
          EnableEbsEncryption       = true
        }
      }
    }
    InstanceMetadataServiceConfiguration = {
      MinimumInstanceMetadataServiceVersion = 2
      HttpPutResponseHopLimit               = 1
    }
  })
}

# A group of the clusters' own, added to EMR's managed ones at each launch (the DAG's
# emr.additional_security_group_ids): EMR makes its managed groups per cluster, so a service that
# admits the batch job (the counters' cache) admits this one. No rules of its own: the managed
# groups carry the nodes' egress.
resource "aws_security_group" "cluster" {
  # checkov:skip=CKV2_AWS_5: attached at run time, not here: the hourly DAG adds it to each transient cluster's nodes (additional_security_group_ids in the EMR job flow's instances).
  name        = "${var.name}-emr-cluster"
  description = "The hourly job's EMR clusters, for the services that admit them"
  vpc_id      = var.vpc_id

  tags = var.tags
}
