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

module "keys" {
  source = "../../modules/keys"

  name                    = var.name
  deletion_window_in_days = 7

  tags = local.tags
}

module "network" {
  source = "../../modules/network"

  name        = var.name
  kms_key_arn = module.keys.key_arn

  tags = local.tags
}

module "messaging" {
  source = "../../modules/messaging"

  name                  = var.name
  publisher_bucket_arns = ["arn:aws:s3:::${local.bucket_prefix}-scored"]
  max_receive_count     = 3
  kms_key_id            = module.keys.key_arn

  tags = local.tags
}

module "data_lake" {
  source = "../../modules/data_lake"

  bucket_prefix = local.bucket_prefix
  force_destroy = true
  kms_key_arn   = module.keys.key_arn
  # The moto server speaks plain HTTP, and it enforces bucket policies: TLS-only would deny all.
  enforce_tls                   = false
  scored_notification_topic_arn = module.messaging.topic_arn

  tags = local.tags
}

module "streaming" {
  source = "../../modules/streaming"

  name               = var.name
  raw_shard_count    = 2
  scored_shard_count = 2
  kms_key_arn        = module.keys.key_arn
  archive_bucket_arn = module.data_lake.bucket_arns["archive"]

  tags = local.tags
}

module "monitoring" {
  source = "../../modules/monitoring"

  name                = var.name
  kms_key_arn         = module.keys.key_arn
  importer_queue_name = module.messaging.queue_name
  importer_dlq_name   = module.messaging.dlq_name
  stream_names        = [module.streaming.raw_stream_name, module.streaming.scored_stream_name]

  tags = local.tags
}

module "schema_registry" {
  source = "../../modules/schema_registry"

  name            = var.name
  lambda_zip_path = var.registry_lambda_zip
  alarm_actions   = [module.monitoring.oncall_topic_arn]

  tags = local.tags
}

# The worker fleet on the moto server: the same module as on AWS, from moto's stock image, sized to
# nothing (moto runs no code; the services run as local processes instead).
module "workers" {
  source = "../../modules/workers"

  name                       = var.name
  ami_id                     = var.worker_ami_id
  vpc_id                     = module.network.vpc_id
  vpc_cidr                   = module.network.cidr_block
  subnet_ids                 = module.network.private_subnet_ids
  kms_key_arn                = module.keys.key_arn
  settings_json              = jsonencode({ region = var.region })
  raw_stream_arn             = module.streaming.stream_arns["raw"]
  raw_shard_count            = 2
  scored_stream_arn          = module.streaming.stream_arns["scored"]
  lease_table_arn            = module.streaming.lease_table_arn
  importer_queue_arn         = module.messaging.queue_arn
  importer_queue_name        = module.messaging.queue_name
  scored_bucket_arn          = module.data_lake.bucket_arns["scored"]
  archive_bucket_arn         = module.data_lake.bucket_arns["archive"]
  registry_api_execution_arn = module.schema_registry.api_execution_arn
  scorer_cores_per_instance  = 2
  importer_min_size          = 0
  alerter_count              = 0
  wait_for_capacity_timeout  = "0"

  tags = local.tags
}
