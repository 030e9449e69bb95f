# The local stack: the same modules as dev and prod, applied to a moto server.
provider "aws" {
  region                      = var.region
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {
    apigatewayv2   = var.aws_endpoint
    autoscaling    = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    dynamodb       = var.aws_endpoint
    ec2            = var.aws_endpoint
    firehose       = var.aws_endpoint
    iam            = var.aws_endpoint
    kinesis        = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    logs           = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sns            = var.aws_endpoint
    sqs            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

locals {
  tags = {
    "trustpipe:env" = "local"
  }
  bucket_prefix = var.name
}

module "messaging" {
  source = "../../modules/messaging"

  name                  = var.name
  publisher_bucket_arns = ["arn:aws:s3:::${local.bucket_prefix}-scored"]
  max_receive_count     = 3

  tags = local.tags
}

module "data_lake" {
  source = "../../modules/data_lake"

  bucket_prefix                 = local.bucket_prefix
  force_destroy                 = true
  scored_notification_topic_arn = module.messaging.topic_arn

  tags = local.tags
}

module "streaming" {
  source = "../../modules/streaming"

  name               = var.name
  raw_shard_count    = 2
  scored_shard_count = 2

  tags = local.tags
}

module "monitoring" {
  source = "../../modules/monitoring"

  name = var.name

  tags = local.tags
}

module "schema_registry" {
  source = "../../modules/schema_registry"

  name            = var.name
  lambda_zip_path = var.registry_lambda_zip
  alarm_actions   = [module.monitoring.oncall_topic_arn]

  tags = local.tags
}
