# The local stack: the pipeline dev and prod apply, on a moto server, with the switches off for
# what moto cannot run (RDS, the EMR cluster's roles, the Airflow host). `trustpipe local up` applies it.
provider "aws" {
  region                      = var.region
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {
    apigateway     = var.aws_endpoint
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

module "pipeline" {
  source = "../../modules/pipeline"

  name                = var.name
  enterprises         = var.enterprises
  aws_endpoint        = var.aws_endpoint
  registry_lambda_zip = var.registry_lambda_zip
  # moto stores the front door's Lambda without running it: the local stack serves the same
  # core itself (trustpipe_frontdoor.local_server), checking signatures as API Gateway would.
  frontdoor_lambda_zip = var.frontdoor_lambda_zip
  # moto's stock image stands in for the baked AMI; the groups are sized to nothing (moto runs no
  # code: the services run as local processes instead).
  worker_ami_id             = var.worker_ami_id
  importer_min_size         = 0
  alerter_count             = 0
  wait_for_capacity_timeout = "0"
  # What moto cannot run: the local stack's PostgreSQL is a local server, Airflow runs standalone.
  enable_database      = false
  enable_emr           = false
  enable_orchestration = false
  # A disposable stack on a plain-HTTP server that enforces bucket policies.
  force_destroy               = true
  enforce_tls                 = false
  key_deletion_window_in_days = 7
  max_receive_count           = 3

  tags = { "trustpipe:env" = "local" }
}
