variable "name" {
  description = "Name prefix of the workers' resources."
  type        = string
}

variable "ami_id" {
  description = "The worker AMI baked by packer/worker.pkr.hcl."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the workers."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's address range (the endpoints and the database live in it)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the ASGs spread over."
  type        = list(string)
}

variable "gateway_prefix_list_ids" {
  description = "Prefix lists of the S3 and DynamoDB gateway endpoints (egress to them)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (volumes, logs, encrypted streams, queues and buckets)."
  type        = string
}

variable "settings_json" {
  description = "The services' settings (Terraform outputs as trustpipe.settings.Settings JSON), written to /etc/trustpipe/settings.json at boot."
  type        = string
}

variable "instance_types" {
  description = "Instance type per service."
  type        = map(string)
  default     = { scorer = "c7g.large", importer = "m7g.medium", alerter = "t4g.small", indexer = "t4g.small" }
}

variable "raw_stream_arn" {
  description = "The raw stream the scorers read."
  type        = string
}

variable "raw_shard_count" {
  description = "Shards of the raw stream: the scorer ASG runs one process per core per shard."
  type        = number
}

variable "scorer_cores_per_instance" {
  description = "vCPUs of the scorer instance type (one scorer process each)."
  type        = number
  default     = 2
}

variable "scored_stream_arn" {
  description = "The scored stream (scorers write, stream importers read)."
  type        = string
}

variable "imported_stream_arn" {
  description = "The imported stream (stream importers write stored verdicts, alerters read)."
  type        = string
}

variable "action_queue_arns" {
  description = "The enterprises' action queues (the alerters send to them)."
  type        = list(string)
}

variable "alert_topic_arns" {
  description = "The enterprises' alert topics (the alerters publish to them)."
  type        = list(string)
}

variable "actions_table_arn" {
  description = "Table of the actions issued (the alerters' one-action-per-message guard)."
  type        = string
}

variable "importer_queue_arn" {
  description = "SQS queue of scored-object events."
  type        = string
}

variable "importer_queue_name" {
  description = "Name of that queue (the scaling alarms' dimension)."
  type        = string
}

variable "scored_bucket_arn" {
  description = "Bucket the importers read scored files from."
  type        = string
}

variable "archive_bucket_arn" {
  description = "Bucket holding the model artifacts (models/)."
  type        = string
}

variable "registry_api_execution_arn" {
  description = "Execution ARN of the schema registry's HTTP API (null: no registry access)."
  type        = string
  default     = null
}

variable "database_secret_arn" {
  description = "Secrets Manager secret with the master credentials, for the one-shot migration unit on the importer hosts (null: none, e.g. locally)."
  type        = string
  default     = null
}

variable "database_resource_id" {
  description = "The database instance's resource id (rds-db:connect ARNs name it; null: no database, e.g. locally)."
  type        = string
  default     = null
}

variable "importer_min_size" {
  description = "Importers always running."
  type        = number
  default     = 1
}

variable "importer_max_size" {
  description = "Most importers the backlog may scale out to."
  type        = number
  default     = 8
}

variable "alerter_count" {
  description = "Alerter instances."
  type        = number
  default     = 1
}

variable "enable_indexer" {
  description = "The indexer's group: it reads the scored stream and the search queue and indexes every message into the search domain."
  type        = bool
  default     = false
}

variable "indexer_count" {
  description = "Indexer instances (each runs the stream and the queue indexer)."
  type        = number
  default     = 1
}

variable "search_domain_arn" {
  description = "The OpenSearch domain the indexer writes (es:ESHttp* on its paths); with enable_indexer."
  type        = string
  default     = null
}

variable "search_url_parameter_arn" {
  description = "The SSM parameter holding the domain's URL, which the indexer reads at start (ssm:GetParameter); with enable_indexer."
  type        = string
  default     = null
}

variable "search_admin_role_arn" {
  description = "The domain's fine-grained access control master role, which the indexer assumes to apply the template, the ISM policy and the role mappings (null: none)."
  type        = string
  default     = null
}

variable "search_queue_arn" {
  description = "The SQS queue of scored-object announcements the queue indexer reads (null: none yet)."
  type        = string
  default     = null
}

variable "importer_scale_out_visible_threshold" {
  description = "Scale out when more than this many messages are visible."
  type        = number
  default     = 0
}

variable "importer_scale_out_periods" {
  description = "Periods the backlog must last before scaling out."
  type        = number
  default     = 2
}

variable "importer_scale_in_periods" {
  description = "Periods the queue must be idle (visible + in flight = 0) before scaling in."
  type        = number
  default     = 10
}

variable "importer_scaling_period_seconds" {
  description = "Period of the importer scaling alarms (SQS metrics are published every minute)."
  type        = number
  default     = 60
}

variable "importer_scale_out_step" {
  description = "Importers added per scale-out."
  type        = number
  default     = 2
}

variable "importer_scaling_cooldown_seconds" {
  description = "Cooldown between importer scaling actions."
  type        = number
  default     = 300
}

variable "drain_seconds" {
  description = "Termination lifecycle hook heartbeat: how long a worker may drain before it is terminated."
  type        = number
  default     = 600
}

variable "wait_for_capacity_timeout" {
  description = "How long apply waits for the ASGs' instances (\"0\": do not wait)."
  type        = string
  default     = "10m"
}

variable "log_retention_days" {
  description = "Days the workers' logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "stage_forms" {
  description = "Each stream stage's form: asg (a KCL group on hosts) or lambda (a function on the stream's event source mapping, modules/stream_lambda). Keys: scorer, stream-importer, alerter, indexer."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for s, f in var.stage_forms : contains(["scorer", "stream-importer", "alerter", "indexer"], s) && contains(["asg", "lambda"], f)])
    error_message = "stage_forms maps scorer, stream-importer, alerter or indexer to asg or lambda."
  }
}
