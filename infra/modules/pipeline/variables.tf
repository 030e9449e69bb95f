variable "name" {
  description = "Name prefix of every resource (e.g. trustpipe-prod)."
  type        = string
}

variable "alert_emails" {
  description = "On-call addresses subscribed to the alarms' topic."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published (alarm descriptions link it)."
  type        = string
  default     = "https://github.com/trustpipe/trustpipe/blob/main/docs/runbooks"
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones used."
  type        = number
  default     = 2
}

variable "raw_shard_count" {
  description = "Shards of the raw stream (1 MB/s or 1,000 records/s in each)."
  type        = number
  default     = 2
}

variable "scored_shard_count" {
  description = "Shards of the scored stream."
  type        = number
  default     = 2
}

variable "enterprises" {
  description = "The tenant map: enterprise id => who may assume its sensor role and its consumer role (IAM principal ARNs; an empty list is this account's root). Each gets those two roles, an action queue and an alert topic."
  # A map, not an object type: Terraform drops an object's unknown attributes silently, and a
  # misspelled "sensor_principal" would leave the role trusting the account's root.
  type = map(map(list(string)))

  validation {
    condition     = length(var.enterprises) > 0
    error_message = "enterprises must name at least one enterprise."
  }

  validation {
    # trustpipe.tenants.ENTERPRISE_ID: ids name queues, topics and roles.
    condition     = alltrue([for id in keys(var.enterprises) : can(regex("^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$", id))])
    error_message = "Each enterprise id must be 1-32 lower-case letters, digits and inner hyphens (trustpipe.tenants.ENTERPRISE_ID)."
  }

  validation {
    condition     = alltrue([for e in values(var.enterprises) : length(setsubtract(keys(e), ["sensor_principals", "consumer_principals"])) == 0])
    error_message = "An enterprise's fields are sensor_principals and consumer_principals (both optional); any other is a mistake."
  }

  validation {
    condition = alltrue(flatten([
      for e in values(var.enterprises) : [
        for p in flatten(values(e)) : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[^*]+$", p))
      ]
    ]))
    error_message = "sensor_principals and consumer_principals hold IAM principal ARNs (arn:aws:iam::<account>:role/..., :user/..., :root), no wildcards."
  }
}

variable "imported_shard_count" {
  description = "Shards of the imported stream (only QUARANTINE/LABEL verdicts matter to its readers)."
  type        = number
  default     = 1
}

variable "worker_ami_id" {
  description = "The AMI baked by packer/worker.pkr.hcl (workers and the Airflow host)."
  type        = string
}

variable "worker_instance_types" {
  description = "Instance type per worker service."
  type        = map(string)
  default     = { scorer = "c7g.large", importer = "m7g.medium", alerter = "t4g.small", indexer = "t4g.small" }
}

variable "scorer_cores_per_instance" {
  description = "vCPUs of the scorer instance type."
  type        = number
  default     = 2
}

variable "importer_min_size" {
  description = "Importers always running."
  type        = number
  default     = 1
}

variable "importer_max_size" {
  description = "Most importers."
  type        = number
  default     = 8
}

variable "registry_lambda_zip" {
  description = "The registry's Lambda zip (`make lambda`)."
  type        = string
}

variable "frontdoor_lambda_zip" {
  description = "The stream front door's Lambda zip (`make lambda`: build/frontdoor-lambda.zip)."
  type        = string
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
  default     = true
}

variable "airflow_instance_type" {
  description = "Airflow host instance type."
  type        = string
  default     = "m7g.large"
}

variable "access_log_bucket" {
  description = "Existing bucket for S3 server access logs of the data lake (null: none)."
  type        = string
  default     = null
}

variable "checkout_dir" {
  description = "The trustpipe checkout the apply uploads code from (DAGs, wheelhouse, EMR job); needed with enable_orchestration."
  type        = string
  default     = null
}

variable "enable_database" {
  description = "RDS PostgreSQL (off for the local stack, whose PostgreSQL is a local server)."
  type        = bool
  default     = true
}

variable "enable_emr" {
  description = "The EMR cluster's roles, logs and security configuration (off where EMR cannot run)."
  type        = bool
  default     = true
}

variable "enable_counters" {
  description = "The model's counters in ElastiCache (Redis OSS, TLS, IAM-authenticated RBAC user); off, the scorers and jobs use each model's frozen snapshot."
  type        = bool
  default     = false
}

variable "counters_node_type" {
  description = "Node type of the counters' replication group."
  type        = string
  default     = "cache.t4g.small"
}

variable "enable_orchestration" {
  description = "The Airflow host (off for the local stack, which runs Airflow standalone); needs the database."
  type        = bool
  default     = true
}

variable "enable_search" {
  description = "The search domain (Amazon OpenSearch Service in the VPC) and the indexer's group (off where OpenSearch Service cannot run: the local stack serves an OpenSearch-API emulator)."
  type        = bool
  default     = false
}

variable "enable_review" {
  description = "The review API (issue 36): a Cognito user pool, an HTTP API with a JWT authorizer, the review function in the VPC; needs enable_search (it reviews the search store's messages)."
  type        = bool
  default     = false
}

variable "review_lambda_zip" {
  description = "The review function's zip (`make lambda`: build/review-lambda.zip); read only with enable_review."
  type        = string
  default     = null
}

variable "search_retention_days" {
  description = "Days a daily search index is kept (the domain's ISM policy deletes older ones)."
  type        = number
  default     = 90
}

variable "search_create_timeout" {
  description = "How long apply waits for the search domain to be created."
  type        = string
  default     = "60m"
}

variable "aws_endpoint" {
  description = "Endpoint the services use instead of AWS's (the local stack's moto server); null on AWS."
  type        = string
  default     = null
}

variable "key_deletion_window_in_days" {
  description = "Days a scheduled deletion of the stack's KMS key can still be cancelled."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (disposable stacks only)."
  type        = bool
  default     = false
}

variable "enforce_tls" {
  description = "Deny plain-HTTP access to every bucket (off only against the plain-HTTP moto server)."
  type        = bool
  default     = true
}

variable "max_receive_count" {
  description = "Receives of an importer message before it moves to the DLQ."
  type        = number
  default     = 5
}

variable "alerter_count" {
  description = "Alerter instances."
  type        = number
  default     = 1
}

variable "wait_for_capacity_timeout" {
  description = "How long apply waits for the worker groups' instances (\"0\": not at all)."
  type        = string
  default     = "10m"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "stage_forms" {
  description = "The switch: each stream stage's form, asg (a KCL group on hosts) or lambda (modules/stream_lambda). Keys: scorer, stream-importer, alerter, indexer (with enable_search); an absent stage is asg."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for s, f in var.stage_forms : contains(["scorer", "stream-importer", "alerter", "indexer"], s) && contains(["asg", "lambda"], f)])
    error_message = "stage_forms maps scorer, stream-importer, alerter or indexer to asg or lambda."
  }
}

variable "stage_lambda_dir" {
  description = "Where `make lambda` put the stages' zips (<stage>-lambda.zip); read only for stages in their Lambda form."
  type        = string
  default     = "../../../build"
}

variable "stage_lambda_concurrency" {
  description = "Reserved concurrency per Lambda stage (at least its stream's shards x the parallelization factor; default 10)."
  type        = map(number)
  default     = {}
}
