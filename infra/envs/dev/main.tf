provider "aws" {
  region = var.region

  default_tags {
    tags = { "trustpipe:env" = "dev" }
  }
}

module "pipeline" {
  source = "../../modules/pipeline"

  name                   = "trustpipe-dev"
  enterprises            = var.enterprises
  alert_emails           = var.alert_emails
  worker_ami_id          = var.worker_ami_id
  registry_lambda_zip    = var.registry_lambda_zip
  frontdoor_lambda_zip   = var.frontdoor_lambda_zip
  stage_forms            = var.stage_forms
  checkout_dir           = var.checkout_dir
  raw_shard_count        = var.raw_shard_count
  scored_shard_count     = var.scored_shard_count
  worker_instance_types  = var.worker_instance_types
  importer_max_size      = var.importer_max_size
  db_instance_class      = var.db_instance_class
  db_multi_az            = var.db_multi_az
  db_deletion_protection = var.db_deletion_protection
  enable_search          = true
  enable_review          = var.enable_review
  review_lambda_zip      = var.review_lambda_zip
}
