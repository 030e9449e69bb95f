variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "enterprises" {
  description = "The enterprises this deployment serves, enterprise id => who may assume its sensor and consumer roles (terraform.tfvars.example). Adding or removing one is an edit here and `make deploy`."
  # A map, not an object type: Terraform would drop a misspelled field of an object silently
  # (and the role would trust the account's root); the pipeline module refuses unknown fields.
  type = map(map(list(string)))
}

variable "alert_emails" {
  description = "On-call addresses for the alarms."
  type        = list(string)
}

variable "worker_ami_id" {
  description = "The AMI from `packer build packer/worker.pkr.hcl`."
  type        = string
}

variable "registry_lambda_zip" {
  description = "The registry's Lambda zip (`make lambda`)."
  type        = string
  default     = "../../../build/schema-registry-lambda.zip"
}

variable "frontdoor_lambda_zip" {
  description = "The stream front door's Lambda zip (`make lambda`)."
  type        = string
  default     = "../../../build/frontdoor-lambda.zip"
}

variable "review_lambda_zip" {
  description = "The review API's Lambda zip (`make lambda`)."
  type        = string
  default     = "../../../build/review-lambda.zip"
}

variable "enable_review" {
  description = "The review API (Cognito user pool, HTTP API with a JWT authorizer, the review function); its outputs say where to sign in."
  type        = bool
  default     = true
}

variable "checkout_dir" {
  description = "The trustpipe checkout the apply uploads from: dags/, build/wheelhouse/ (`make image-inputs`), spark_jobs/emr/."
  type        = string
  default     = "../../.."
}

variable "raw_shard_count" {
  description = "Shards of the raw stream."
  type        = number
  default     = 2
}

variable "scored_shard_count" {
  description = "Shards of the scored stream."
  type        = number
  default     = 2
}

variable "worker_instance_types" {
  description = "Instance type per worker service."
  type        = map(string)
  default     = { scorer = "c7g.large", importer = "m7g.medium", alerter = "t4g.small", indexer = "t4g.small" }
}

variable "importer_max_size" {
  description = "Most importers the backlog may scale out to."
  type        = number
  default     = 4
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  description = "RDS standby in a second AZ."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database."
  type        = bool
  default     = false
}

variable "stage_forms" {
  description = "Each stream stage's form: asg or lambda (e.g. { alerter = \"lambda\" }; keys scorer, stream-importer, alerter, indexer); `make lambda` builds the zips."
  type        = map(string)
  default     = {}
}
